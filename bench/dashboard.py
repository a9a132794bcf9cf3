"""Dashboard benchmark: page callbacks over HTTP on millions of events, warm, cold and crowded.

Run ``python bench/dashboard.py [--quick]`` with DATABASE_URL pointing at a database of its
own whose name contains ``bench`` (``make bench-dashboard`` creates a fresh
``northstar_dbench``) and REDIS_URL at a Redis db other than 0, which it flushes. It loads the
demo catalogue and history plus bulk events (5 million in all by default), starts the web
process and the RQ workers itself and stops them whatever happens, then measures:

1. the Overview tiles and the KPI page body callbacks, warm (answer cache filled) and cold
   (answer cache emptied before each call), latency as the client sees it over loopback;
2. N simulated users (100) each making an interaction every 5 s for 60 s while events stream
   in through the ingest API (2,000 events/s).

Progress lines go to stdout; the last line printed is one JSON object. See
docs/benchmarks.md, "Dashboard benchmark".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script from anywhere: the project root holds the ``models`` and ``bench`` packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.dashboard_data import (
    KPI_KEYS,
    PASSWORD,
    USER_SCOPES,
    LoadReport,
    analyze,
    load_events,
    make_accounts,
)
from bench.dashboard_http import Browser
from bench.dashboard_pages import PERIODS, Pages
from bench.dashboard_stream import (
    Stream,
    committed_since,
    free_port,
    start_web,
    start_workers,
    stream_world,
)
from bench.dashboard_timing import Target, time_calls
from bench.dashboard_users import Crowd, User, figures
from bench.ingest_procs import CpuMeter, Processes, Sampler, cpu_groups
from ingest.demo.catalog import COMPANY_KEY
from ingest.demo.seed import seed_demo
from models import migrate
from models.db import make_engine
from models.settings import Settings, load_settings

TARGETS = {"warm_p95_ms": 30.0, "cold_p95_ms": 200.0, "users_100_p95_ms": 300.0}
TIMERS = 20
"""Signed-in global executives the warm/cold calls rotate over (see dashboard_timing)."""
PRIMERS = 2
"""Of those, the ones that fill the cache for the warm calls (not timed, not counted)."""
WARMUP_S = 5.0
PRODUCERS = 4
"""Producer threads: enough to keep the offered rate when a request takes a few hundred ms."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_avg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200,000 events, 40 calls a figure")
    parser.add_argument("--events", type=int, help="events in all (default 5,000,000)")
    parser.add_argument("--history-scale", type=float, help="demo history scale (default 1)")
    parser.add_argument("--calls", type=int, help="timed calls per figure (default 100)")
    parser.add_argument("--users", type=int, default=100, help="simulated users")
    parser.add_argument("--duration", type=float, default=60.0, help="users' window, s")
    parser.add_argument("--interval", type=float, default=5.0, help="s between a user's actions")
    parser.add_argument("--rate", type=float, default=2_000.0, help="streamed events per s")
    parser.add_argument("--ingest-batch", type=int, default=200, help="events per ingest request")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument(
        "--rate-limit",
        default="60/30 seconds",
        help="NORTHSTAR_RATE_LIMIT of the web process (per user; the app's default)",
    )
    parser.add_argument("--skip-users", action="store_true", help="only the warm/cold figures")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    args = parser.parse_args()
    args.events = args.events or (200_000 if args.quick else 5_000_000)
    args.history_scale = args.history_scale or (0.25 if args.quick else 1.0)
    args.calls = args.calls or (40 if args.quick else 100)
    return args


def refuse_shared_targets(settings: Settings) -> None:
    database = make_url(settings.sqlalchemy_url).database or ""
    if "bench" not in database:
        sys.exit(f"refusing to run against database {database!r}: its name must contain 'bench'")
    db = redis.Redis.from_url(settings.redis_url).connection_pool.connection_kwargs.get("db", 0)
    if not db:
        sys.exit("refusing to flush Redis db 0: point REDIS_URL at another db (e.g. /5)")


@dataclass
class Run:
    args: argparse.Namespace
    settings: Settings
    engine: Engine
    client: redis.Redis
    load: LoadReport
    port: int


def prepare(args: argparse.Namespace) -> Run:
    """Migrate, flush the bench's Redis db, seed the demo catalogue, load the events."""
    settings = load_settings()
    refuse_shared_targets(settings)
    migrate.upgrade()
    engine = make_engine(settings, application_name="northstar-dbench")
    client = redis.Redis.from_url(settings.redis_url)
    client.flushdb()
    seed_demo(engine, settings)
    log(f"loading: demo history (scale {args.history_scale}), then up to {args.events:,} events")
    report = load_events(engine, args.events, args.history_scale, log)
    log(f"{report.total_events:,} events stored; ANALYZE (load {load_avg()[0]})")
    analyze(engine)
    return Run(args, settings, engine, client, report, free_port())


def process_env(run: Run, log_dir: Path) -> dict[str, str]:
    metrics = log_dir / "prometheus"
    metrics.mkdir(exist_ok=True)
    return {
        **os.environ,
        "DATABASE_URL": run.settings.database_url,
        "REDIS_URL": run.settings.redis_url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "NORTHSTAR_ENV": "dev",
        "NORTHSTAR_RATE_LIMIT": run.args.rate_limit,
        "NORTHSTAR_RATE_LIMIT_ENABLED": "true",
    }


def signed_in(run: Run, emails: list[str]) -> list[Browser]:
    browsers = [Browser(run.port, email, PASSWORD) for email in emails]
    for browser in browsers:
        browser.sign_in()
    return browsers


def warm_cold(run: Run, timers: list[Browser], pages: Pages) -> dict[str, Any]:
    """Warm then cold figures of the Overview tiles and of the KPI page body (company scope)."""
    kpi_variants = [(KPI_KEYS[n % len(KPI_KEYS)], PERIODS[n % len(PERIODS)]) for n in range(28)]
    targets = {
        "overview": Target(
            "overview tiles",
            "update_tiles",
            [pages.overview_body(p, COMPANY_KEY) for p in PERIODS],
            list(PERIODS),
            "overview-grid",
        ),
        "kpi_page": Target(
            "KPI page body",
            "kpi_view",
            [pages.kpi_body(k, COMPANY_KEY, p) for k, p in kpi_variants],
            [p for _, p in kpi_variants],
            "kpi-head",
        ),
    }
    result: dict[str, Any] = {}
    for name, target in targets.items():
        for temperature in ("warm", "cold"):
            figures_ = time_calls(
                target,
                timers[:PRIMERS],
                timers[PRIMERS:],
                run.args.calls,
                cold=temperature == "cold",
                client=run.client,
                engine=run.engine,
            )
            figures_["load_avg_1m"] = load_avg()[0]
            log(
                f"{target.name}, {temperature}: p50 {figures_['p50_ms']} ms, p95 "
                f"{figures_['p95_ms']} ms, {figures_['all_answers_cached']}/"
                f"{figures_['logged_ok']} all cached (load {load_avg()[0]})"
            )
            result.setdefault(name, {})[temperature] = figures_
    return result


def crowd_phase(run: Run, procs: Processes, env: dict[str, str], pages: Pages) -> dict[str, Any]:
    """The simulated users while events stream in through the ingest API."""
    args = run.args
    accounts = make_accounts(run.engine, "bench-user", USER_SCOPES, args.users)
    log(f"signing in {len(accounts)} users")
    browsers = signed_in(run, [a.email for a in accounts])
    users = [
        User(b, a, pages, seed=n) for n, (b, a) in enumerate(zip(browsers, accounts, strict=True))
    ]
    start_workers(procs, env, args.rq_workers)
    stream = Stream(
        run.port, stream_world(run.engine, run.client), args.rate, args.ingest_batch, PRODUCERS
    )
    log(f"streaming {args.rate:,.0f} events/s, {args.ingest_batch} a request; warm-up")
    stream.start()
    time.sleep(WARMUP_S)
    crowd = Crowd(users, args.interval)
    since, since_at = time.time(), dt.datetime.now(dt.UTC)
    accepted_before = stream.accepted()
    meter = CpuMeter(cpu_groups(procs, run.engine, this_process="users"))
    meter.start()
    crowd.start()
    log(f"{len(users)} users, an interaction every {args.interval:.0f} s each, measuring")
    next_report = since + 15
    while (now := time.time()) < since + args.duration:
        time.sleep(min(1.0, since + args.duration - now))
        procs.check_alive()
        if time.time() >= next_report:
            done = len(crowd.tally.interactions)
            log(f"users: {time.time() - since:.0f} s, {done} interactions (load {load_avg()[0]})")
            next_report += 15
    tally = crowd.stop()
    window = time.time() - since
    committed = committed_since(run.engine, since_at)
    accepted = stream.accepted() - accepted_before
    cores = meter.stop()
    streamed = stream.stop()
    result = figures(tally, window)
    result["ingest"] = {
        "offered_events_per_s": args.rate,
        "accepted_events_per_s": round(accepted / window),
        "committed_events_per_s": round(committed / window),
        "refused_429_503": streamed.refused,
        "connection_errors": streamed.errors,
    }
    result["cpu_cores"] = cores
    result["load_avg_1m"] = load_avg()[0]
    result["window_s"] = round(window, 1)
    return result


def context(run: Run) -> dict[str, Any]:
    args = run.args
    with run.engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar_one()
    return {
        "config": {
            "events": run.load.total_events,
            "history_scale": args.history_scale,
            "calls_per_figure": args.calls,
            "users": args.users,
            "interval_s": args.interval,
            "duration_s": args.duration,
            "stream_events_per_s": args.rate,
            "ingest_batch": args.ingest_batch,
            "web": f"gunicorn gthread {args.web_workers} workers x {args.web_threads} threads",
            "rq_workers": args.rq_workers,
            "rate_limit": args.rate_limit,
        },
        "load": {
            "history_events": run.load.history_events,
            "bulk_events": run.load.bulk_events,
            "history_s": round(run.load.history_s, 1),
            "bulk_s": round(run.load.bulk_s, 1),
            "bulk_events_per_s": round(run.load.bulk_events / run.load.bulk_s)
            if run.load.bulk_s
            else None,
        },
        "cores": os.cpu_count(),
        "load_avg": load_avg(),
        "postgresql": version,
    }


def _within(value: float | None, target: float) -> bool | None:
    return None if value is None else value <= target


def summary(run: Run, timed: dict[str, Any], crowd: dict[str, Any] | None) -> dict[str, Any]:
    """The headline figures first, then the details and the context."""
    users_p95 = crowd["p95_ms"] if crowd else None
    headline = {
        "overview_warm_p95_ms": timed["overview"]["warm"]["p95_ms"],
        "overview_cold_p95_ms": timed["overview"]["cold"]["p95_ms"],
        "kpi_page_warm_p95_ms": timed["kpi_page"]["warm"]["p95_ms"],
        "kpi_page_cold_p95_ms": timed["kpi_page"]["cold"]["p95_ms"],
        "users_100_p95_ms": users_p95 if run.args.users == 100 else None,
        "users_p95_ms": users_p95,
    }
    met = {
        "overview_warm": _within(headline["overview_warm_p95_ms"], TARGETS["warm_p95_ms"]),
        "overview_cold": _within(headline["overview_cold_p95_ms"], TARGETS["cold_p95_ms"]),
        "kpi_page_warm": _within(headline["kpi_page_warm_p95_ms"], TARGETS["warm_p95_ms"]),
        "kpi_page_cold": _within(headline["kpi_page_cold_p95_ms"], TARGETS["cold_p95_ms"]),
        "users_100": _within(headline["users_100_p95_ms"], TARGETS["users_100_p95_ms"]),
    }
    return {
        **headline,
        "targets": TARGETS,
        "met": met,
        "overview": timed["overview"],
        "kpi_page": timed["kpi_page"],
        "users": crowd,
        **context(run),
    }


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM (timeout, a CI runner) unwinds like Ctrl-C, so the processes are stopped.
    sys.exit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    run = prepare(parse_args())
    timers = make_accounts(run.engine, "bench-timer", (COMPANY_KEY,), TIMERS)
    logs = Path(tempfile.mkdtemp(prefix="northstar-dbench-"))
    try:
        with Processes(logs) as procs, Sampler(procs):
            env = process_env(run, logs)
            start_web(procs, env, run.port, run.args.web_workers, run.args.web_threads)
            log(f"web on :{run.port} ({run.args.web_workers} x {run.args.web_threads})")
            browsers = signed_in(run, [t.email for t in timers])
            pages = Pages.discover(browsers[0])
            timed = warm_cold(run, browsers, pages)
            crowd = None if run.args.skip_users else crowd_phase(run, procs, env, pages)
    except BaseException:
        log(f"failed or interrupted; the processes' logs are in {logs}")
        raise
    if not run.args.keep_logs:
        shutil.rmtree(logs, ignore_errors=True)
    result = summary(run, timed, crowd)
    run.engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
