"""Data-quality benchmark: full check cycles over the demo's sources and 30 days of history.

Run ``python bench/quality.py [--warm N] [--days D] [--scale S] [--rejected SHARE]`` with
DATABASE_URL pointing at a database of its own whose name contains ``bench`` (``make
bench-quality`` creates a fresh ``northstar_qbench``). It migrates, seeds the demo catalogue,
writes the demo history with the demo's own writer (``ingest.demo.history.write_history``,
what ``northstar demo history`` runs) and quarantined records over the same days (2 % by
default), then times ``ingest.quality.runner.run_cycle`` — the function the
``quality-checks`` cron job runs — over every active source: one cold cycle (no check ever
ran: the catalogue of checks is created and reconciliation starts from its lookback), N warm
ones, and two with the clock an hour past the history (an outage: incidents open, then
repeat). It prints each cycle, p50 and max seconds per cycle and per step (where the time
goes), and two baselines: plain ``count(*)`` scans of the raw events a cycle's checks stand
for. The last line printed is one JSON object. See docs/benchmarks.md, "Data-quality check
cycle".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Run as a script from anywhere: the project root holds the ``models`` and ``bench`` packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from ingest.demo.history import write_history
from ingest.demo.seed import seed_demo
from ingest.quality.context import Thresholds
from ingest.quality.runner import CycleReport, run_cycle
from models import migrate
from models.db import make_engine
from models.quality.measures import active_sources
from models.quality.windows import WINDOW, same_window_before, settled_window
from models.settings import Settings, load_settings

TARGET_S = 5.0
"""A full cycle, cold or warm, on the 2-core machine (docs/quality.md)."""
START_AFTER = dt.timedelta(seconds=30)
TICK = dt.timedelta(seconds=10)
"""The clock stands just after the history's end and moves 10 s a cycle: the sources look as
they do while the simulator feeds them (the fastest SLA, web sessions', is 120 s), so the
cycles time healthy data, and the judged windows are complete history windows."""
OUTAGE = dt.timedelta(hours=1)
"""The outage cycles' clock: an hour without events fails freshness and completeness."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_avg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", type=int, default=5, help="warm cycles after the cold one")
    parser.add_argument("--days", type=float, default=30.0, help="days of demo history")
    parser.add_argument("--scale", type=float, default=1.0, help="demo history scale")
    parser.add_argument(
        "--rejected",
        type=float,
        default=0.02,
        help="quarantined records over the history, as a share of its events (default 2 %%)",
    )
    return parser.parse_args()


def refuse_shared_database(settings: Settings) -> None:
    database = make_url(settings.sqlalchemy_url).database or ""
    if "bench" not in database:
        sys.exit(f"refusing to run against database {database!r}: its name must contain 'bench'")


# The demo history has no rejections; validity and referential integrity read the quarantine
# by source and receipt time, so it gets records received over the same days, each source in
# proportion to its events, one in three an unknown org unit. Bench data only: written here,
# not through the app's quarantine writer, which stamps the receipt time with the clock.
_QUARANTINE = """
INSERT INTO quarantine (source_id, source_key, contract_version, batch_id, record_index,
                        payload, field, rule, reason, received_at, first_seen_at)
SELECT s.id, s.key, 1, gen_random_uuid(), 0, '{}'::jsonb, 'org_unit',
       CASE WHEN g % 3 = 0 THEN 'unknown_org_unit' ELSE 'type' END,
       CASE WHEN g % 3 = 0 THEN 'org_unit: unknown org unit bench-' || (g % 17)
            ELSE 'amount: expected a number' END,
       t.at, t.at
FROM sources s
JOIN LATERAL (SELECT count(*) AS n FROM events e WHERE e.source_id = s.id) c ON true
CROSS JOIN LATERAL generate_series(1, CAST(round(c.n * :share) AS integer)) g
CROSS JOIN LATERAL (SELECT :end - random() * CAST(:days AS interval) AS at) t
"""


def load(engine: Engine, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Seed the demo catalogue, write its history and rejections, ANALYZE; the facts."""
    seed_demo(engine, settings)
    log(f"demo history: {args.days:g} days at scale {args.scale:g} (load {load_avg()[0]})")
    report = write_history(engine, days=args.days, scale=args.scale)
    with engine.begin() as connection:
        rejected = connection.execute(
            text(_QUARANTINE),
            {"share": args.rejected, "end": report.end, "days": dt.timedelta(days=args.days)},
        ).rowcount
        # Fresh planner statistics, as autovacuum gives them in time.
        connection.execute(text("ANALYZE events, rollup_1m, rollup_1h, rollup_1d, quarantine"))
        events = int(connection.execute(text("SELECT count(*) FROM events")).scalar_one())
    log(
        f"{report.written:,} new events in {report.seconds:.1f} s; {events:,} stored, "
        f"{rejected:,} quarantined"
    )
    return {
        "end": report.end,
        "events": events,
        "quarantined": rejected,
        "s": report.seconds,
    }


def describe(report: CycleReport) -> str:
    steps = ", ".join(f"{k} {v * 1000:.1f}" for k, v in report.timings.items())
    changes = report.incidents
    return (
        f"{report.duration_s:.3f} s, results {report.states}, incidents opened "
        f"{len(changes.opened)} updated {len(changes.updated)} [ms: {steps}] "
        f"(load {load_avg()[0]})"
    )


def reconciled_rows(engine: Engine, at: dt.datetime) -> int:
    """Rollup rows the reconciliation results stored at ``at`` compared."""
    with engine.connect() as connection:
        contexts = connection.execute(
            text(
                "SELECT r.context FROM dq_results r JOIN dq_checks c ON c.id = r.check_id "
                "WHERE c.key = 'reconciliation' AND r.at = :at"
            ),
            {"at": at},
        ).scalars()
        return sum(int(part["rows"]) for context in contexts for part in context["compared"])


Timed = list[tuple[str, CycleReport]]


def cycles(engine: Engine, settings: Settings, end: dt.datetime, warm: int) -> Timed:
    """The cold cycle, ``warm`` warm ones (the clock moving ``TICK`` a cycle), then two at
    ``OUTAGE`` after the history's end: every source silent, so incidents open, then repeat."""
    clocks = [("cold", end + START_AFTER)]
    clocks += [(f"warm {n}", end + START_AFTER + n * TICK) for n in range(1, warm + 1)]
    clocks += [("outage 1", end + OUTAGE), ("outage 2", end + OUTAGE + dt.timedelta(minutes=1))]
    reports = []
    for name, now in clocks:
        report = run_cycle(engine, settings, now)
        if report.skipped:
            sys.exit("a check cycle was skipped: another one holds the lock on this database")
        reports.append((name, report))
        compared = reconciled_rows(engine, now)
        log(f"cycle {name}: {describe(report)}; {compared:,} rollup rows reconciled")
    return reports


def timed_count(engine: Engine, sql: str, params: dict[str, Any]) -> tuple[int, float]:
    with engine.connect() as connection:
        started = time.perf_counter()
        n = int(connection.execute(text(sql), params).scalar_one())
        return n, time.perf_counter() - started


def baselines(engine: Engine, settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """Plain scans of the raw events the checks stand for (each run twice, the second timed).

    ``windows``: every source's judged window and its history weeks, counted from ``events``
    (completeness and the anomaly check read those counts from ``rollup_1m`` instead).
    ``lookback``: every event of the reconciliation lookback, the least a cold reconciliation
    must read.
    """
    limits = Thresholds.from_settings(settings)
    with engine.connect() as connection:
        sources = active_sources(connection)
    ids, starts = [], []
    for source in sources:
        judged = settled_window(now, limits.settle_for(source))
        for window in (judged, *same_window_before(judged, limits.history_weeks)):
            ids.append(source.id)
            starts.append(window.start)
    # One index probe per window (LATERAL), as the checks read rollup_1m: a plain join is
    # planned as a scan of every event (see docs/benchmarks.md).
    windows_sql = (
        "SELECT sum(x.n) FROM unnest(CAST(:ids AS integer[]), CAST(:starts AS timestamptz[])) "
        "AS w(source_id, start) CROSS JOIN LATERAL (SELECT count(*) AS n FROM events e "
        "WHERE e.source_id = w.source_id "
        "AND e.ts >= w.start AND e.ts < w.start + CAST(:width AS interval)) x"
    )
    windows_params = {"ids": ids, "starts": starts, "width": WINDOW}
    lookback_sql = "SELECT count(*) FROM events WHERE ts >= :start AND ts < :end"
    lookback_params = {"start": now - limits.reconcile_lookback, "end": now}
    result: dict[str, Any] = {}
    for name, sql, params in (
        ("windows", windows_sql, windows_params),
        ("lookback", lookback_sql, lookback_params),
    ):
        timed_count(engine, sql, params)
        rows, seconds = timed_count(engine, sql, params)
        result[name] = {"events": rows, "ms": round(seconds * 1000, 1)}
        log(f"baseline {name}: count(*) of {rows:,} events in {seconds * 1000:.1f} ms")
    return result


def _p50_max(values: Sequence[float], digits: int = 3) -> dict[str, float]:
    return {"p50": round(statistics.median(values), digits), "max": round(max(values), digits)}


def summary(timed: Timed) -> dict[str, Any]:
    """Seconds per cycle (cold, warm p50/max, outage) and ms per step over every cycle."""
    reports = [r for _, r in timed]
    warm = [r.duration_s for name, r in timed if name.startswith("warm")]
    durations = [r.duration_s for r in reports]
    steps = list(dict.fromkeys(k for r in reports for k in r.timings))
    return {
        "cold_s": round(reports[0].duration_s, 3),
        "warm_s": _p50_max(warm) if warm else None,
        "outage_s": [round(r.duration_s, 3) for name, r in timed if name.startswith("outage")],
        "max_s": round(max(durations), 3),
        "target_s": TARGET_S,
        "met": max(durations) < TARGET_S,
        "steps_ms": {
            k: _p50_max([r.timings.get(k, 0.0) * 1000 for r in reports], 1) for k in steps
        },
        "cycles": [
            {
                "cycle": name,
                "s": round(r.duration_s, 3),
                "results": r.states,
                "opened": len(r.incidents.opened),
                "steps_ms": {k: round(v * 1000, 1) for k, v in r.timings.items()},
            }
            for name, r in timed
        ],
        "sources": reports[0].sources,
    }


def main() -> None:
    args = parse_args()
    settings = load_settings()
    refuse_shared_database(settings)
    before = load_avg()
    migrate.upgrade()
    engine = make_engine(settings, application_name="northstar-qbench")
    loaded = load(engine, settings, args)
    end = loaded["end"]
    log(f"check cycles from {end + START_AFTER:%Y-%m-%d %H:%M:%S} UTC (history ends {end:%H:%M})")
    figures = summary(cycles(engine, settings, end, args.warm))
    warm = figures["warm_s"] or {"p50": None}
    log(
        f"cycle: cold {figures['cold_s']} s, warm p50 {warm['p50']} s, outage "
        f"{figures['outage_s']} s; max {figures['max_s']} s "
        f"(target < {TARGET_S} s: {'met' if figures['met'] else 'MISSED'})"
    )
    for step, values in figures["steps_ms"].items():
        log(f"  {step:<22} p50 {values['p50']:7.1f} ms, max {values['max']:7.1f} ms")
    base = baselines(engine, settings, end + START_AFTER)
    with engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()
    result = {
        **figures,
        "baseline_ms": base,
        "history": {
            "days": args.days,
            "scale": args.scale,
            "events": loaded["events"],
            "quarantined": loaded["quarantined"],
            "written_s": round(loaded["s"], 1),
        },
        "cores": os.cpu_count(),
        "load_avg_before": before,
        "load_avg": load_avg(),
        "postgresql": version,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
