"""``northstar worker`` and ``northstar cron`` outlive a Redis restart and carry on.

Both run as real processes against a private ``redis-server`` (the shared one is never
touched), which the test kills and starts again, empty (no persistence). Afterwards records
published to the new Redis must reach PostgreSQL without anyone triggering a drain: the cron's
sweep enqueues it and the worker runs it, so both must have come back. Each outage is logged
once per process, not at every retry.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from ingest import streams
from integration.drain_support import BASE, catalog, publish_records, record, stored_identities
from integration.factories import Catalog
from integration.outage_support import PrivateRedis
from models.settings import Settings

__all__ = ["catalog"]  # fixture

ROOT = Path(__file__).resolve().parents[3]
OUTAGE_S = 8.0
"""Longer than the sweep's 5-second interval: the cron meets the outage, not only the worker."""
BOUND_S = 60.0
"""Generous: start-up imports on a shared machine; the test catches an exit, not slowness."""


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    yield server
    server.close()


def start(command: str, settings: Settings, redis_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": redis_url,
        "NORTHSTAR_INGEST_CLAIM_IDLE_MS": "200",
        "NORTHSTAR_JOB_LOG_LEVEL": "INFO",  # each job in the log a failure prints
    }
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-c", "from cli.main import main; main()", command],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until_stored(
    engine: Engine,
    count: int,
    processes: dict[str, subprocess.Popen[bytes]],
    logs: dict[str, Path],
) -> None:
    deadline = time.monotonic() + BOUND_S
    while (stored := len(stored_identities(engine))) < count:
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}"
        if time.monotonic() >= deadline:
            output = "\n".join(
                f"--- {n}:\n{p.read_text(errors='replace')}" for n, p in logs.items()
            )
            pytest.fail(f"{stored} of {count} events stored after {BOUND_S} s\n{output}")
        time.sleep(0.25)


def publish(settings: Settings, server: PrivateRedis, prefix: str) -> int:
    client = redis.Redis.from_url(server.url)
    try:
        # An hour ago: the worker's hourly ``maintain`` job, which runs at its start, applies
        # retention, and would delete events as old as the shared fixtures' BASE date.
        ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1) - BASE) / dt.timedelta(minutes=1)
        records = [record(i, f"{prefix}-{i}", ago + i, "unit2", {"amount": 1.0}) for i in range(20)]
        publish_records(client, settings, 1, "orders", records)
    finally:
        client.close()
    return len(records)


def test_worker_and_cron_carry_on_after_redis_restarts(
    private_redis: PrivateRedis,
    catalog: Catalog,
    db: Engine,
    settings: Settings,
    tmp_path: Path,
) -> None:
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "cron")}
    processes = {name: start(name, settings, private_redis.url, log) for name, log in logs.items()}
    try:
        first = publish(settings, private_redis, "before")
        wait_until_stored(db, first, processes, logs)  # swept by the cron, drained by the worker

        private_redis.kill()
        time.sleep(OUTAGE_S)
        private_redis.start()  # empty: queues, streams, registrations all gone

        second = publish(settings, private_redis, "after")
        wait_until_stored(db, first + second, processes, logs)
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            try:
                process.wait(timeout=BOUND_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                pytest.fail(f"{name} did not stop on SIGTERM")

    assert {name: p.returncode for name, p in processes.items()} == {"worker": 0, "cron": 0}
    text = {name: log.read_text(errors="replace") for name, log in logs.items()}
    for name, output in text.items():
        retries = output.count("could not connect to Redis") + output.count("channel lost")
        unavailable = output.count("unavailable (")
        assert retries + unavailable <= 2, f"{name} logged the outage at every retry:\n{output}"
        assert "Traceback" not in output, output
    assert "Redis (cron) is back after" in text["cron"]
    pending = streams.QUARANTINE_STREAM  # nothing was rejected on the way
    assert redis.Redis.from_url(private_redis.url).xlen(pending) == 0
