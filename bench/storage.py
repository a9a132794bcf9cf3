"""Storage benchmark: write throughput against plain COPY, and KPI read latency.

Run ``python bench/storage.py [--events N] [--quick] [--check]`` with DATABASE_URL pointing at
a bench database (``make bench`` creates a fresh one). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script from anywhere: the project root holds the ``models`` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from models import migrate
from models.db import make_engine
from models.enums import Granularity, OrgLevel, RefreshMode
from models.kpis import Kpi
from models.org import OrgUnit
from models.permissions import Permission, Principal
from models.queries.common import Period, floor_to, read_connection
from models.queries.kpis import KpiBreakdown, KpiSeries, kpi_breakdown, kpi_series, load_kpi
from models.settings import load_settings
from models.sources import Metric, Source
from models.writes import EventRow, copy_rows, write_events

REVENUE_KPI = "bench_revenue"
BATCH = 5000
CHUNK_BATCHES = 20  # rows are generated this many batches at a time, outside the timers
LIVE_RATE_PER_S = 1000  # events per second of the simulated live stream
# source key -> (measures with value generators, share of events)
SOURCES: dict[str, tuple[dict[str, Callable[[random.Random], float]], float]] = {
    "orders": (
        {
            "amount": lambda r: round(r.lognormvariate(4, 0.8), 2),
            "items": lambda r: float(r.randint(1, 6)),
            "discount": lambda r: round(r.random() * 20, 2),
        },
        0.35,
    ),
    "web_sessions": (
        {
            "duration_s": lambda r: round(r.expovariate(1 / 180), 1),
            "pages": lambda r: float(r.randint(1, 12)),
        },
        0.45,
    ),
    "support_tickets": ({"resolution_h": lambda r: round(r.expovariate(1 / 20), 2)}, 0.15),
    "marketing_spend": (
        {
            "spend": lambda r: round(r.uniform(50, 5000), 2),
            "clicks": lambda r: float(r.randint(0, 900)),
            "impressions": lambda r: float(r.randint(1000, 90000)),
        },
        0.05,
    ),
}
CHANNELS = ("web", "app", "store", "partner")
DEVICES = ("desktop", "mobile", "tablet")
CATEGORIES = ("books", "garden", "electronics", "toys", "grocery", "fashion")


@dataclass(frozen=True)
class World:
    """The ids the generator needs: business units and sources, and the top unit."""

    company_id: int
    company_path: str
    units: list[int]
    sources: list[tuple[int, str]]
    metric_count: int
    unit_count: int


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _unit(session: Session, key: str, level: OrgLevel, parent: OrgUnit | None) -> OrgUnit:
    found = session.scalar(select(OrgUnit).where(OrgUnit.key == key))
    if found is not None:
        return found
    # The path holds the unit's own id, known only after the insert: a unique placeholder first.
    parent_id = parent.id if parent else None
    unit = OrgUnit(key=key, name=key, level=level, parent_id=parent_id, path=uuid.uuid4().hex)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path}.{unit.id}" if parent else str(unit.id)
    session.flush()
    return unit


def _source(session: Session, key: str, measures: Iterable[str], owner: OrgUnit) -> int:
    found = session.scalar(select(Source.id).where(Source.key == f"bench_{key}"))
    if found is not None:
        return found
    source = Source(
        key=f"bench_{key}",
        name=key,
        owner_unit_id=owner.id,
        refresh_mode=RefreshMode.STREAMING,
        freshness_sla_s=300,
    )
    session.add(source)
    session.flush()
    for measure in [None, *measures]:
        metric_key = f"bench_{key}.{measure}" if measure else f"bench_{key}"
        session.add(
            Metric(key=metric_key, source_id=source.id, measure=measure, name=measure or "count")
        )
    return source.id


def build_world(engine: Engine) -> World:
    """Create (once) 1 company, 3 regions, 8 countries, 24 units, 4 sources and a KPI."""
    with Session(engine) as session, session.begin():
        company = _unit(session, "bench-co", OrgLevel.COMPANY, None)
        regions = [_unit(session, f"bench-r{i}", OrgLevel.REGION, company) for i in range(3)]
        countries = [
            _unit(session, f"bench-c{i}", OrgLevel.COUNTRY, regions[i % 3]) for i in range(8)
        ]
        units = [
            _unit(session, f"bench-bu{i}", OrgLevel.BUSINESS_UNIT, countries[i % 8])
            for i in range(24)
        ]
        sources = [(_source(session, key, m, company), key) for key, (m, _) in SOURCES.items()]
        if session.scalar(select(Kpi.id).where(Kpi.key == REVENUE_KPI)) is None:
            formula = "sum(bench_orders.amount)"
            session.add(
                Kpi(
                    key=REVENUE_KPI, name="Bench revenue", owner_unit_id=company.id, formula=formula
                )
            )
        metrics = sum(len(measures) + 1 for measures, _ in SOURCES.values())
        return World(company.id, company.path, [u.id for u in units], sources, metrics, 36)


class Generator:
    """Demo-like events: a few measures, dims and (PII-bearing) attrs per event."""

    def __init__(self, world: World, seed: int) -> None:
        self.rng = random.Random(seed)
        self.world = world
        keys = [key for _, key in world.sources]
        self.weights = [SOURCES[key][1] for key in keys]

    def rows(self, stamps: Sequence[dt.datetime]) -> list[EventRow]:
        rng = self.rng
        picks = rng.choices(self.world.sources, weights=self.weights, k=len(stamps))
        out = []
        for ts, (source_id, key) in zip(stamps, picks, strict=True):
            measures = {name: make(rng) for name, make in SOURCES[key][0].items()}
            customer = rng.randrange(1_000_000)
            out.append(
                EventRow(
                    ts=ts,
                    source_id=source_id,
                    event_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                    org_unit_id=rng.choice(self.world.units),
                    measures=measures,
                    dims={
                        "channel": rng.choice(CHANNELS),
                        "device": rng.choice(DEVICES),
                        "category": rng.choice(CATEGORIES),
                        "campaign": f"cmp-{rng.randrange(40)}",
                    },
                    attrs={"customer_id": f"c{customer}", "email": f"user{customer}@example.com"},
                )
            )
        return out


def live_stamps(count: int, end: dt.datetime) -> list[dt.datetime]:
    """``count`` increasing timestamps of a stream of LIVE_RATE_PER_S events ending at ``end``."""
    step = 1 / LIVE_RATE_PER_S
    start = end - dt.timedelta(seconds=count * step)
    return [start + dt.timedelta(seconds=i * step) for i in range(count)]


def backfill_stamps(rng: random.Random, count: int, end: dt.datetime) -> list[dt.datetime]:
    """``count`` timestamps spread uniformly over the 30 days before ``end``."""
    span = 30 * 86400
    return [end - dt.timedelta(seconds=rng.random() * span) for _ in range(count)]


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
            _log(
                f"{name}: {done:,}/{total:,} rows; copy {done / times.copy_s:,.0f}/s, "
                f"write {done / times.write_s:,.0f}/s (load {os.getloadavg()[0]:.2f})"
            )
            next_report += 0.1
    if times.new != times.rows:
        _log(f"WARNING: {name}: {times.new:,} of {times.rows:,} rows were new")
    return times


SERIES_RAW = """
SELECT date_bin('1 hour', e.ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       sum((e.measures ->> 'amount')::double precision) AS total
FROM events e
WHERE e.source_id = :source AND e.ts >= :start AND e.ts < :end
  AND e.measures ? 'amount'
  AND e.org_unit_id IN (
      SELECT u.id FROM org_units u
      WHERE u.path <@ (SELECT p.path FROM org_units p WHERE p.id = :top))
GROUP BY 1 ORDER BY 1
"""


def p95_ms(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The 95th percentile of ``repeat`` timed calls of ``run``, and its last answer."""
    timings = []
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))], result


def time_queries(engine: Engine, world: World, end: dt.datetime) -> dict[str, Any]:
    """p95 of the query layer's KPI series and breakdown, and of the series from events.

    Each call is timed with its read transaction, as a dashboard page makes it.
    """
    settings = load_settings()
    principal = Principal(None, frozenset({Permission.KPI_VIEW}), (world.company_path,))
    period = Period.covering(end - dt.timedelta(days=30), end)
    with read_connection(engine, settings) as connection:
        kpi = load_kpi(connection, principal, REVENUE_KPI)

    def series() -> KpiSeries:
        with read_connection(engine, settings) as connection:
            return kpi_series(
                connection, principal, kpi, world.company_id, period, Granularity.HOUR
            )

    def breakdown() -> KpiBreakdown:
        with read_connection(engine, settings) as connection:
            return kpi_breakdown(connection, principal, kpi, world.company_id, period)

    orders = next(sid for sid, key in world.sources if key == "orders")
    params = {"source": orders, "top": world.company_id, "start": period.start, "end": period.end}

    def raw() -> list[Any]:
        with read_connection(engine, settings) as connection:
            return list(connection.execute(text(SERIES_RAW), params).all())

    series_ms, from_rollups = p95_ms(series, 40)
    breakdown_ms, _ = p95_ms(breakdown, 40)
    raw_ms, from_events = p95_ms(raw, 5)
    by_bucket: dict[dt.datetime, float] = dict(from_events)
    differ = [
        p.start
        for p in from_rollups.points
        if abs((p.value or 0.0) - by_bucket.get(floor_to(p.start, Granularity.HOUR), 0.0)) > 1e-6
    ]
    if differ:
        _log(f"WARNING: {len(differ)} buckets of the KPI series differ from the events")
    return {
        "kpi_series_p95_ms": round(series_ms, 2),
        "kpi_breakdown_p95_ms": round(breakdown_ms, 2),
        "raw_series_p95_ms": round(raw_ms, 2),
        "raw_over_kpi_series": round(raw_ms / series_ms, 1),
        "kpi_series_points": len(from_rollups.points),
        "queries_timed": "models.queries.kpis (kpi_series, kpi_breakdown)",
    }


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
    _log("check: new-row counts and every rollup match the events")


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
    _log(f"{total:,} events: {live_total:,} live then {total - live_total:,} backfill")
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
    queries = time_queries(engine, world, end)
    copy_s = live_t.copy_s + backfill_t.copy_s
    result = {
        "events": total,
        "batch_size": BATCH,
        "copy_rows_per_s": round(total / copy_s),
        "write_rows_per_s_live": round(live_t.rows / live_t.write_s),
        "write_copy_ratio_live": round(live_t.copy_s / live_t.write_s, 3),
        "write_rows_per_s_backfill": round(backfill_t.rows / backfill_t.write_s),
        "write_copy_ratio_backfill": round(backfill_t.copy_s / backfill_t.write_s, 3),
        **queries,
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
