"""Processes and live events of the dashboard benchmark: gunicorn, RQ workers, producers.

The web process is the Procfile's (``gunicorn -c gunicorn.conf.py dashboard.wsgi:app``) and
the workers are ``northstar worker``, each started in its own process group by
``bench.ingest_procs.Processes``, which stops them whatever happens. Live events take the
real ingest path: HTTP ingest API → Redis Streams → RQ workers → PostgreSQL (then the data
versions are bumped, so the pages' cached answers of those metrics go stale, as in production).
"""

from __future__ import annotations

import datetime as dt
import socket
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.ingest_data import PROBE_SOURCE, Template, World, make_templates, streaming_sources
from bench.ingest_load import Producers, Tally
from bench.ingest_procs import Processes
from ingest.demo.catalog import COMPANY_KEY
from ingest.simulator_run import provision_keys
from models.catalog import count_metric_ids, org_unit_ids_by_key, source_ids_by_key, unit_by_key

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPLATES = 64
COMMITTED_SINCE = text(
    # The ts bound keeps the scan to the newest day partitions; ingested_at is the commit's.
    "SELECT count(*) FROM events WHERE ts >= :since - interval '10 minutes' "
    "AND ingested_at >= :since"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_web(
    procs: Processes, env: Mapping[str, str], port: int, workers: int, threads: int
) -> None:
    """Start gunicorn on ``port`` and wait (30 s at most) until ``/healthz`` answers 200."""
    argv = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
    argv += ["--workers", str(workers), "--threads", str(threads), "--chdir", str(ROOT)]
    procs.start("web", [*argv, "dashboard.wsgi:app"], {**env, "PORT": str(port)})
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


def start_workers(procs: Processes, env: Mapping[str, str], count: int) -> None:
    for n in range(count):
        procs.start(f"worker-{n}", [str(BIN / "northstar"), "worker"], env)


def stream_world(engine: Engine, client: redis.Redis) -> World:
    """A new API key for each streaming demo source (what the producers need).

    ``World``'s probe fields serve the ingest bench's freshness probes, which this bench does
    not send; they name the company's order count.
    """
    with Session(engine) as session:
        sources, units = source_ids_by_key(session), org_unit_ids_by_key(session)
        metric = count_metric_ids(session)[PROBE_SOURCE]
        path = str(unit_by_key(session, COMPANY_KEY).path)
    keys = provision_keys(engine, client, streaming_sources())
    return World(keys, sources, units, units[COMPANY_KEY], path, metric)


class Stream:
    """Paced producers posting ``rate`` events a second in bodies of ``batch`` events."""

    def __init__(self, port: int, world: World, rate: float, batch: int, threads: int) -> None:
        self.rate = rate
        self.templates: list[Template] = make_templates(TEMPLATES, batch)
        self.producers = Producers(port, world, self.templates, threads, rate / batch)

    def start(self) -> None:
        self.producers.start()

    def accepted(self) -> int:
        return self.producers.total().accepted

    def stop(self) -> Tally:
        return self.producers.stop()


def committed_since(engine: Engine, since: dt.datetime) -> int:
    """Events committed (by the workers) since ``since``."""
    with engine.connect() as connection:
        return int(connection.execute(COMMITTED_SINCE, {"since": since}).scalar_one())
