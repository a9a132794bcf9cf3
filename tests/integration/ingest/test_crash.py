"""A worker killed with SIGKILL in the middle of a batch costs nothing but a retry.

Real ``northstar worker`` processes drain a large backlog; each is killed while PostgreSQL is
executing its write (seen in ``pg_stat_activity``), so its transaction dies uncommitted and its
stream entries stay pending. A last worker reclaims them (XAUTOCLAIM); then every accepted
event must be in ``events`` exactly once and every rollup must equal the aggregate of what the
producers were told was accepted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, text

from ingest import jobs, streams
from ingest.runtime import Services
from integration.drain_support import (
    UNITS,
    Published,
    accepted_events,
    expected_rollups,
    publish_records,
    record,
    stored_identities,
)
from integration.factories import Catalog, all_rollups, make_catalog, rollup_differences
from models.settings import Settings

PARTITIONS = 4
CLAIM_IDLE_MS = 200
REQUESTS = 48
RECORDS_PER_REQUEST = 1000
KILLS = 3
WORKER_ENV = {
    "NORTHSTAR_INGEST_PARTITIONS": str(PARTITIONS),
    "NORTHSTAR_INGEST_CLAIM_IDLE_MS": str(CLAIM_IDLE_MS),
    # Each kill redelivers the entries in flight; they must not be taken for poison.
    "NORTHSTAR_INGEST_MAX_DELIVERIES": "50",
    "NORTHSTAR_DRAIN_BUDGET_S": "3",
}
NORTHSTAR = Path(sys.executable).with_name("northstar")


@pytest.fixture
def crash_services(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[Services]:
    update = {
        "ingest_partitions": PARTITIONS,
        "ingest_claim_idle_ms": CLAIM_IDLE_MS,
        "ingest_max_backlog": 100_000,
    }
    built = jobs.init_services(settings.model_copy(update=update))
    yield built
    built.close()
    jobs.init_services(settings)


def publish_backlog(services: Services) -> list[Published]:
    rng = random.Random(20260302)
    units = list(UNITS)
    published = []
    for n in range(REQUESTS):
        source_id, key, measure = (1, "orders", "amount") if n % 3 else (2, "tickets", "minutes")
        records = [
            record(
                i,
                f"{key}-{n}-{i}",
                rng.uniform(0, 240),
                rng.choice(units),
                {measure: round(rng.uniform(1, 500), 2)},
            )
            for i in range(RECORDS_PER_REQUEST)
        ]
        published.append(
            publish_records(services.redis, services.settings, source_id, key, records)
        )
    return published


def start_worker(settings: Settings, *, burst: bool) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(WORKER_ENV)
    env["DATABASE_URL"] = settings.database_url
    env["REDIS_URL"] = settings.redis_url
    args = [str(NORTHSTAR), "worker", "--log-level", "WARNING"] + (["--burst"] if burst else [])
    # The arguments are constants and our own interpreter's console script.
    return subprocess.Popen(  # noqa: S603
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


_WRITING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'northstar' AND state = 'active'
  AND (query ILIKE '%%INSERT INTO events%%' OR query ILIKE 'COPY staging_events%%')
"""


def kill_while_writing(engine: Engine, worker: subprocess.Popen[bytes]) -> bool:
    """SIGKILL ``worker`` as soon as PostgreSQL runs its write; False if it never wrote."""
    deadline = time.monotonic() + 60
    try:
        with engine.connect() as connection:
            while time.monotonic() < deadline and worker.poll() is None:
                if connection.execute(text(_WRITING)).scalar_one():
                    worker.send_signal(signal.SIGKILL)
                    return True
                connection.rollback()
        return False
    finally:
        worker.kill()
        worker.wait(timeout=30)


def wait_for_no_writer(engine: Engine, limit_s: float = 60.0) -> bool:
    """Wait (bounded) until no backend runs the write; True once none does."""
    deadline = time.monotonic() + limit_s
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            if not connection.execute(text(_WRITING)).scalar_one():
                return True
            connection.rollback()
            time.sleep(0.05)
    return False


def drain_to_the_end(services: Services) -> None:
    """Burst workers until every stream is empty (pending entries reclaimed after idling)."""
    partitions = list(range(PARTITIONS))
    for _ in range(20):  # bounded: each round drains or reclaims everything left
        if sum(streams.backlog(services.redis, partitions).values()) == 0:
            return
        time.sleep(CLAIM_IDLE_MS / 1000 * 1.5)
        jobs.trigger_drain(services, partitions)
        worker = start_worker(services.settings, burst=True)
        try:
            _, err = worker.communicate(timeout=300)
        finally:
            if worker.poll() is None:  # never leave a worker behind, whatever failed
                worker.kill()
                worker.wait(timeout=30)
        assert worker.returncode == 0, err.decode()[-2000:]
    pytest.fail(f"backlog left: {streams.backlog(services.redis, partitions)}")


def test_workers_killed_mid_batch_lose_nothing_and_count_nothing_twice(
    crash_services: Services, db: Engine
) -> None:
    services = crash_services
    catalog: Catalog = make_catalog(db, children=2)
    published = publish_backlog(services)

    killed_mid_write = 0
    for _ in range(KILLS):
        jobs.trigger_drain(services, range(PARTITIONS))
        killed_mid_write += kill_while_writing(db, start_worker(services.settings, burst=False))
        # The orphaned backend finishes its statement, finds its client gone and rolls back.
        assert wait_for_no_writer(db), "a killed worker's transaction is still running"
    assert killed_mid_write == KILLS

    pending = streams.pending_counts(
        services.redis, [streams.stream_key(p) for p in range(PARTITIONS)]
    )
    assert sum(pending.values()) > 0  # the dead workers' batches were left pending
    drain_to_the_end(services)

    accepted = accepted_events(published)
    assert stored_identities(db) == sorted(accepted)
    want = expected_rollups(published, catalog)
    have = all_rollups(db)
    problems = [p for table in want for p in rollup_differences(table, want[table], have[table])]
    assert problems == []
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM quarantine")).scalar_one() == 0
