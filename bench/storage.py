"""Storage benchmark: write throughput against plain COPY, and KPI read latency.

Run ``python bench/storage.py [--events N] [--quick] [--check]`` with DATABASE_URL pointing at
a bench database (``make bench`` creates a fresh one). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script from anywhere: the project root holds the ``models`` and ``bench`` packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import Engine, text

from bench.storage_data import (
    LIVE_RATE_PER_S,
    Generator,
    backfill_stamps,
    build_world,
    live_stamps,
    log,
)
from bench.storage_imports import history_loads, summary, timescale_loads
from bench.storage_reads import time_queries
from models import migrate
from models.db import make_engine
from models.settings import load_settings
from models.writes import EventRow, copy_rows, write_events

BATCH = 5000
CHUNK_BATCHES = 20  # rows are generated this many batches at a time, outside the timers


def batches(rows: list[EventRow]) -> Iterator[list[EventRow]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


@dataclass
class PhaseTimes:
    rows: int = 0
    new: int = 0
    copy_s: float = 0.0
    write_s: float = 0.0


def run_phase(
    engine: Engine,
    raw: psycopg.Connection[Any],
    generator: Generator,
    name: str,
    total: int,
    stamps_for: Callable[[int, int], Sequence[dt.datetime]],
) -> PhaseTimes:
    """Interleave, batch by batch, a plain COPY and the write function over the same rows."""
    times = PhaseTimes()
    done = 0
    next_report = 0.0
    while done < total:
        size = min(BATCH * CHUNK_BATCHES, total - done)
        rows = generator.rows(stamps_for(done, size))
        for batch in batches(rows):
            started = time.perf_counter()
            with raw.cursor() as cursor:
                copy_rows(cursor, "bench_copy", batch)
            raw.commit()
            copied = time.perf_counter()
            result = write_events(engine, batch)
            times.write_s += time.perf_counter() - copied
            times.copy_s += copied - started
            times.new += result.new_rows
        done += size
        times.rows = done
        if done / total >= next_report:
            log(
                f"{name}: {done:,}/{total:,} rows; copy {done / times.copy_s:,.0f}/s, "
                f"write {done / times.write_s:,.0f}/s (load {os.getloadavg()[0]:.2f})"
            )
            next_report += 0.1
    if times.new != times.rows:
        log(f"WARNING: {name}: {times.new:,} of {times.rows:,} rows were new")
    return times


ROLLUP_CHECK = """
WITH vals AS (
    SELECT e.ts, e.org_unit_id, m.id AS metric_id,
           CASE WHEN m.measure IS NULL THEN 1.0
                ELSE (e.measures ->> m.measure)::double precision END AS v
    FROM events e
    JOIN metrics m ON m.source_id = e.source_id
     AND (m.measure IS NULL OR e.measures ? m.measure)
), agg AS (
    SELECT date_trunc('{unit}', ts, 'UTC') AS bucket, metric_id, org_unit_id,
           count(*) AS n, sum(v) AS total, min(v) AS min_v, max(v) AS max_v,
           sum(v * v) AS sum_sq, max(ts) AS last_ts
    FROM vals GROUP BY 1, 2, 3
)
SELECT count(*) FROM agg FULL JOIN {table} r USING (bucket, metric_id, org_unit_id)
WHERE r.n IS DISTINCT FROM agg.n OR r.min_v IS DISTINCT FROM agg.min_v
   OR r.max_v IS DISTINCT FROM agg.max_v OR r.last_ts IS DISTINCT FROM agg.last_ts
   OR abs(r.total - agg.total) > 1e-9 * greatest(1, abs(agg.total))
   OR abs(r.sum_sq - agg.sum_sq) > 1e-9 * greatest(1, abs(agg.sum_sq))
"""


def check_correctness(engine: Engine, generator: Generator, end: dt.datetime) -> None:
    """Replay duplicates and retries, then compare every rollup with the events (exits if not)."""
    rng = random.Random(99)
    fresh = generator.rows(backfill_stamps(rng, BATCH, end))
    more = generator.rows(live_stamps(BATCH // 2, end))
    expectations = [
        (fresh, BATCH),  # new rows
        (fresh, 0),  # the same batch retried
        (fresh[: BATCH // 2] + more, BATCH // 2),  # half retried, half new
        (more + more, 0),  # duplicates inside one batch, all already stored
    ]
    twice = generator.rows(live_stamps(100, end))
    expectations.append((twice + twice, 100))  # new rows, each twice in the batch
    for rows, expected in expectations:
        got = write_events(engine, rows).new_rows
        if got != expected:
            sys.exit(f"check failed: wrote {len(rows)} rows, {got} new, expected {expected}")
    with engine.connect() as connection:
        for unit, table in (("minute", "rollup_1m"), ("hour", "rollup_1h"), ("day", "rollup_1d")):
            bad = connection.execute(text(ROLLUP_CHECK.format(unit=unit, table=table))).scalar()
            if bad:
                sys.exit(f"check failed: {bad} rows of {table} differ from the events")
    log("check: new-row counts and every rollup match the events")


def load(
    engine: Engine, raw: psycopg.Connection[Any], generator: Generator, total: int, end: dt.datetime
) -> tuple[PhaseTimes, PhaseTimes]:
    """Half the events as a live stream ending at ``end``, half as a 30-day backfill before it."""
    raw.execute("CREATE TABLE IF NOT EXISTS bench_copy (LIKE events INCLUDING DEFAULTS)")
    raw.execute("TRUNCATE bench_copy")
    raw.commit()
    live_total = total // 2
    live = live_stamps(live_total, end)
    live_start = live[0] if live else end
    log(f"{total:,} events: {live_total:,} live then {total - live_total:,} backfill")
    live_t = run_phase(engine, raw, generator, "live", live_total, lambda i, n: live[i : i + n])
    rng = random.Random(7)
    backfill_t = run_phase(
        engine,
        raw,
        generator,
        "backfill",
        total - live_total,
        lambda _i, n: backfill_stamps(rng, n, live_start),
    )
    raw.execute("DROP TABLE bench_copy")
    raw.commit()
    return live_t, backfill_t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--quick", action="store_true", help="500 thousand events")
    parser.add_argument(
        "--check", action="store_true", help="also check rollups against events (slow)"
    )
    args = parser.parse_args()
    total = 500_000 if args.quick else args.events
    settings = load_settings()
    migrate.upgrade()
    engine = make_engine(settings, application_name="northstar-bench")
    world = build_world(engine)
    generator = Generator(world, seed=42)
    end = dt.datetime.now(dt.UTC)
    with psycopg.connect(settings.libpq_url) as raw:
        live_t, backfill_t = load(engine, raw, generator, total, end)
        version = raw.execute("SHOW server_version").fetchone()
    if args.check:
        check_correctness(engine, generator, end)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE events, rollup_1m, rollup_1h, rollup_1d"))
    # Time the reads as a web worker makes them: it runs with its start-up objects frozen
    # (gunicorn.conf.py), so a full GC collection never walks them; here the load phase's
    # leftovers would otherwise be walked by the collections that land in a timed call.
    gc.collect()
    gc.freeze()
    queries = time_queries(engine, world, end)
    # Upserts leave dead row versions in the rollups until autovacuum gets to them; in the
    # steady state it has. Time the reads again after a VACUUM to show both.
    with psycopg.connect(settings.libpq_url, autocommit=True) as raw:
        raw.execute("VACUUM (ANALYZE) rollup_1m, rollup_1h, rollup_1d")
    vacuumed = time_queries(engine, world, end, with_raw=False)
    # History loads (bench/storage_imports.py): ordered import and random spread, natively
    # here and on TimescaleDB (refresh included) when NORTHSTAR_TEST_TIMESCALE_URL is set.
    history_events = total // 5
    history = summary("", history_loads(engine, settings.libpq_url, history_events, end))
    on_timescale = timescale_loads(history_events, end)
    copy_s = live_t.copy_s + backfill_t.copy_s
    result = {
        "events": total,
        "batch_size": BATCH,
        "copy_rows_per_s": round(total / copy_s),
        "write_rows_per_s_live": round(live_t.rows / live_t.write_s),
        "write_copy_ratio_live": round(live_t.copy_s / live_t.write_s, 3),
        "write_rows_per_s_backfill": round(backfill_t.rows / backfill_t.write_s),
        "write_copy_ratio_backfill": round(backfill_t.copy_s / backfill_t.write_s, 3),
        "history_events": history_events,
        **history,
        "timescale": on_timescale,
        **queries,
        "after_vacuum": vacuumed,
        "live_events_per_s": LIVE_RATE_PER_S,
        "backfill_days": 30,
        "org_units": world.unit_count,
        "metrics": world.metric_count,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "postgresql": version[0] if version else None,
    }
    engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
