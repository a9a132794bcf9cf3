"""Ingest benchmark: HTTP producers → gunicorn → Redis Streams → RQ workers → PostgreSQL.

Run ``python bench/ingest.py [--quick]`` with DATABASE_URL pointing at a database of its own
(``make bench-ingest`` creates a fresh ``northstar_ibench``) and REDIS_URL at a Redis db other
than 0, which it flushes. It starts the web process and the workers itself and stops them
whatever happens. Progress lines go to stdout; the last line printed is one JSON object.

Phases: a plain COPY baseline of the same rows; freshness at an offered 10,000 events/s
(probe events, accepted → visible through ``models.queries``); maximum throughput with
closed-loop producers (events committed per second over the window); a final check that every
accepted event was stored exactly once. See docs/benchmarks.md, "Ingest benchmark".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script from anywhere: the project root holds the ``models`` and ``bench`` packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.ingest_data import Template, World, build_world, copy_rows_of, make_templates
from bench.ingest_load import Prober, Producers, Tally, percentile
from bench.ingest_procs import CpuMeter, Processes, Sampler, cpu_groups, cpu_seconds
from ingest import streams
from models import migrate
from models.db import make_engine
from models.settings import Settings, load_settings
from models.writes import copy_rows

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COPY_BATCH = 5_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def refuse_shared_targets(settings: Settings) -> None:
    database = make_url(settings.sqlalchemy_url).database or ""
    if "bench" not in database:
        sys.exit(f"refusing to run against database {database!r}: its name must contain 'bench'")
    db = redis.Redis.from_url(settings.redis_url).connection_pool.connection_kwargs.get("db", 0)
    if not db:
        sys.exit("refusing to flush Redis db 0: point REDIS_URL at another db (e.g. /4)")


def copy_baseline(settings: Settings, rows: list[Any]) -> float:
    """Rows per second of a plain binary COPY (``models.writes.copy_rows``) into an unindexed
    table, committed every ``COPY_BATCH`` rows like the workers' transactions."""
    with psycopg.connect(settings.libpq_url) as raw:
        raw.execute("CREATE TABLE IF NOT EXISTS bench_copy (LIKE events INCLUDING DEFAULTS)")
        raw.execute("TRUNCATE bench_copy")
        raw.commit()
        started = time.perf_counter()
        for start in range(0, len(rows), COPY_BATCH):
            with raw.cursor() as cursor:
                copy_rows(cursor, "bench_copy", rows[start : start + COPY_BATCH])
            raw.commit()
        seconds = time.perf_counter() - started
        raw.execute("DROP TABLE bench_copy")
        raw.commit()
    return len(rows) / seconds


def stored_events(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM events")).scalar_one())


def backlog(client: redis.Redis, partitions: int) -> int:
    return sum(streams.backlog(client, list(range(partitions))).values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_processes(
    procs: Processes, args: argparse.Namespace, settings: Settings, port: int
) -> None:
    metrics_dir = procs.log_dir / "prometheus"
    metrics_dir.mkdir()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        PORT=str(port),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        NORTHSTAR_INGEST_PARTITIONS=str(args.partitions),
        NORTHSTAR_INGEST_MAX_BACKLOG=str(args.max_backlog),
        NORTHSTAR_ENV="dev",
    )
    gunicorn = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
    gunicorn += ["--workers", str(args.web_workers), "--threads", str(args.web_threads)]
    procs.start("web", [*gunicorn, "--chdir", str(ROOT), "dashboard.wsgi:app"], env)
    for n in range(args.rq_workers):
        procs.start(f"worker-{n}", [str(BIN / "northstar"), "worker"], env)
    deadline = time.monotonic() + 30
    while True:
        procs.check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("the web process did not answer /healthz within 30 s") from None
        time.sleep(0.2)


def run_load(
    label: str,
    producers: Producers,
    procs: Processes,
    engine: Engine,
    client: redis.Redis,
    partitions: int,
    warmup_s: float,
    window_s: float,
) -> dict[str, Any]:
    """Run ``producers`` for ``warmup_s`` then a measured ``window_s``; then stop them."""
    producers.start()
    time.sleep(warmup_s)
    meter = CpuMeter(cpu_groups(procs, engine, this_process="producers"))
    before_events, before_accepted = stored_events(engine), producers.total().accepted
    meter.start()
    started = time.monotonic()
    next_report = started + 5
    while (now := time.monotonic()) < started + window_s:
        time.sleep(min(0.5, started + window_s - now))
        procs.check_alive()
        if time.monotonic() >= next_report:
            elapsed = time.monotonic() - started
            done = stored_events(engine) - before_events
            accepted = producers.total().accepted - before_accepted
            log(
                f"{label}: {elapsed:4.0f} s, accepted {accepted / elapsed:,.0f}/s, committed "
                f"{done / elapsed:,.0f}/s, backlog {backlog(client, partitions)} entries "
                f"(load {load1()})"
            )
            next_report += 5
    elapsed = time.monotonic() - started
    committed = stored_events(engine) - before_events
    accepted = producers.total().accepted - before_accepted
    cores = meter.stop()
    end_backlog = backlog(client, partitions)
    tally = producers.stop()
    return {
        "seconds": round(elapsed, 1),
        "committed_per_s": round(committed / elapsed),
        "accepted_per_s": round(accepted / elapsed),
        "backlog_entries_at_end": end_backlog,
        "cpu_cores": cores,
        "load_avg_1m": load1(),
        "tally": tally,
    }


def wait_drained(engine: Engine, expected: int, timeout_s: float) -> int:
    """Wait until ``expected`` events are stored (or the timeout); returns what is stored."""
    deadline = time.monotonic() + timeout_s
    while (stored := stored_events(engine)) < expected and time.monotonic() < deadline:
        time.sleep(1)
    return stored


def request_figures(tally: Tally) -> dict[str, Any]:
    return {
        "requests": tally.requests,
        "refused_429_503": tally.refused,
        "connection_errors": tally.errors,
        "request_p50_ms": round(1000 * (percentile(tally.seconds, 0.5) or 0), 1),
        "request_p95_ms": round(1000 * (percentile(tally.seconds, 0.95) or 0), 1),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="15 s windows instead of 60 s")
    parser.add_argument("--duration", type=float, help="max-throughput window, s (default 60)")
    parser.add_argument("--producers", type=int, default=4, help="producer threads")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1_000, help="events per request")
    parser.add_argument(
        "--max-backlog",
        type=int,
        default=100,
        help="NORTHSTAR_INGEST_MAX_BACKLOG of the web process (stream entries per partition)",
    )
    parser.add_argument("--fresh-rate", type=float, default=10_000.0, help="offered events/s")
    parser.add_argument("--skip-freshness", action="store_true")
    parser.add_argument("--skip-max", action="store_true")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    return parser.parse_args()


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM (timeout, a CI runner) unwinds like Ctrl-C, so the processes are stopped.
    sys.exit(128 + signum)


@dataclass
class Run:
    """What the phases share: the options, the catalogue, the bodies, the handles."""

    args: argparse.Namespace
    settings: Settings
    engine: Engine
    client: redis.Redis
    world: World
    templates: list[Template]
    port: int = field(default_factory=free_port)
    total: Tally = field(default_factory=Tally)
    result: dict[str, Any] = field(default_factory=dict)


def prepare(args: argparse.Namespace) -> Run:
    """Migrate, flush the bench's Redis db, seed the catalogue and make the bodies."""
    settings = load_settings()
    refuse_shared_targets(settings)
    migrate.upgrade()
    engine = make_engine(settings, application_name="northstar-ibench")
    client = redis.Redis.from_url(settings.redis_url)
    client.flushdb()
    world = build_world(engine, client, settings)
    log("generating request bodies")
    return Run(args, settings, engine, client, world, make_templates(64, args.batch))


def run_phases(run: Run, procs: Processes) -> None:
    """Freshness, then maximum throughput; totals go to ``run.total``, figures to ``run.result``."""
    args = run.args
    start_processes(procs, args, run.settings, run.port)
    log(f"web on :{run.port} ({args.web_workers} x {args.web_threads}), {args.rq_workers} workers")
    if not args.skip_freshness:
        fresh = freshness_phase(run, procs, 15.0 if args.quick else 30.0)
        run.total.add(fresh.pop("tally"))
        run.total.accepted += fresh.pop("probe_accepted")
        run.result["freshness"] = fresh
    if not args.skip_max:
        window = args.duration or (15.0 if args.quick else 60.0)
        producers = Producers(run.port, run.world, run.templates, args.producers, None)
        log(f"max throughput: {args.producers} producers, closed loop, {window:.0f} s window")
        phase = run_load(
            "max", producers, procs, run.engine, run.client, args.partitions, 5.0, window
        )
        tally = phase.pop("tally")
        run.total.add(tally)
        run.result["max"] = phase | request_figures(tally)


def peak_rss(procs: Processes, prefix: str) -> float:
    return round(max((mb for m in procs.named(prefix) for mb in m.peak_mb.values()), default=0), 1)


def context(run: Run) -> dict[str, Any]:
    args = run.args
    with run.engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar_one()
        partitions = connection.execute(
            text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
        ).scalar_one()
    return {
        "processes": {
            "web": f"gunicorn gthread {args.web_workers} workers x {args.web_threads} threads",
            "rq_workers": args.rq_workers,
            "producers": f"{args.producers} threads (closed loop) in the bench process",
        },
        "cores": os.cpu_count(),
        "load_avg_1m": load1(),
        "postgresql": version,
        "stream_partitions": args.partitions,
        "max_backlog_entries": args.max_backlog,
        "event_partitions": partitions,
        "batch_size": args.batch,
        "bench_cpu_s": round(cpu_seconds(os.getpid()), 1),
    }


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    run = prepare(parse_args())
    already = stored_events(run.engine)  # a database used before: count only this run's events
    # Four times the 64 bodies: long enough (about 1.5 s) for a steady figure.
    rows = [r for token in range(4) for r in copy_rows_of(run.templates, run.world, token)]
    log(f"COPY baseline: {len(rows):,} rows (load {load1()})")
    copy_before = copy_baseline(run.settings, rows)
    log(f"COPY baseline: {copy_before:,.0f} rows/s")
    logs = Path(tempfile.mkdtemp(prefix="northstar-ibench-"))
    try:
        with Processes(logs) as procs, Sampler(procs):
            run_phases(run, procs)
            stored = wait_drained(run.engine, already + run.total.accepted, 180) - already
            log(f"drained: {stored:,} events stored of {run.total.accepted:,} accepted")
            copy_after = copy_baseline(run.settings, rows)
            log(f"COPY baseline again: {copy_after:,.0f} rows/s")
            rss = {"web_rss_mb": peak_rss(procs, "web"), "worker_rss_mb": peak_rss(procs, "worker")}
    except BaseException:
        log(f"failed or interrupted; the processes' logs are in {logs}")
        raise
    if not run.args.keep_logs:
        shutil.rmtree(logs, ignore_errors=True)
    stored = stored_events(run.engine) - already
    copy_per_s = (copy_before + copy_after) / 2
    events_per_s = run.result.get("max", {}).get("committed_per_s")
    freshness = run.result.get("freshness", {})
    summary = {
        "events_per_s": events_per_s,
        "copy_rows_per_s": round(copy_per_s),
        "e2e_copy_ratio": round(events_per_s / copy_per_s, 3) if events_per_s else None,
        "freshness_p50_s": freshness.get("p50_s"),
        "freshness_p95_s": freshness.get("p95_s"),
        **rss,
        "accepted_total": run.total.accepted,
        "stored_total": stored,
        "lost_or_duplicated": stored - run.total.accepted,
        "copy_rows_per_s_before_after": [round(copy_before), round(copy_after)],
        **run.result,
        **context(run),
        "logs": str(logs) if run.args.keep_logs else None,
    }
    run.engine.dispose()
    print(json.dumps(summary))


def freshness_phase(run: Run, procs: Processes, window_s: float) -> dict[str, Any]:
    """Offer ``--fresh-rate`` events/s while probes measure accepted → visible."""
    args = run.args
    log(f"freshness: offered {args.fresh_rate:,.0f} events/s, {window_s:.0f} s")
    rate = args.fresh_rate / args.batch
    producers = Producers(run.port, run.world, run.templates, max(2, args.producers // 2), rate)
    prober = Prober(run.port, run.world, run.engine, run.settings)
    prober.start()
    phase = run_load(
        "fresh", producers, procs, run.engine, run.client, args.partitions, 3.0, window_s
    )
    probes = prober.stop()
    p50, p95 = percentile(probes.fresh_s, 0.5), percentile(probes.fresh_s, 0.95)
    log(f"freshness: {len(probes.fresh_s)} probes, p50 {p50 or 0:.3f} s, p95 {p95 or 0:.3f} s")
    tally = phase["tally"]
    return {
        "p50_s": round(p50, 3) if p50 is not None else None,
        "p95_s": round(p95, 3) if p95 is not None else None,
        "max_s": round(max(probes.fresh_s), 3) if probes.fresh_s else None,
        "from_send_p95_s": round(percentile(probes.from_send_s, 0.95) or 0, 3),
        "probes": len(probes.fresh_s),
        "probe_timeouts": probes.timeouts,
        "probe_accepted": probes.accepted,
        "offered_events_per_s": args.fresh_rate,
        **{k: v for k, v in phase.items() if k != "tally"},
        **request_figures(tally),
        "tally": tally,
    }


if __name__ == "__main__":
    main()
