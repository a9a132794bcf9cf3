"""Outages of PostgreSQL never turn accepted events into poison.

An entry is poison when *it* made its write fail more than ``ingest_max_deliveries`` times. A
database that is away fails every write, so those failures must not count: here PostgreSQL
(behind a proxy the test cuts) is away for several times ``delivery limit * claim idle``
while drains keep reclaiming, and afterwards every accepted event is stored once and nothing
is quarantined.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from ingest import jobs, streams
from ingest.runtime import Services
from integration.drain_support import (
    Published,
    accepted_events,
    catalog,
    expected_rollups,
    publish_records,
    quarantine_rows,
    record,
    run_burst_worker,
    stored_identities,
)
from integration.factories import Catalog, all_rollups, rollup_differences
from integration.outage_support import TcpProxy
from models.settings import Settings

__all__ = ["catalog"]  # fixture

CLAIM_IDLE_MS = 200
MAX_DELIVERIES = 3
PARTITIONS = 4
OUTAGE_S = 4 * MAX_DELIVERIES * CLAIM_IDLE_MS / 1000
"""Four times what used to turn every pending entry into poison."""


@pytest.fixture
def proxy(settings: Settings) -> Iterator[TcpProxy]:
    url = make_url(settings.sqlalchemy_url)
    opened = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield opened
    opened.close()


@pytest.fixture
def proxied(
    db: Engine, redis_client: redis.Redis, settings: Settings, proxy: TcpProxy
) -> Iterator[Services]:
    """The worker's Services with PostgreSQL behind ``proxy``, small claim idle and limit."""
    url = make_url(settings.database_url).set(host="127.0.0.1", port=proxy.port)
    update = {
        "database_url": url.render_as_string(hide_password=False),
        "ingest_claim_idle_ms": CLAIM_IDLE_MS,
        "ingest_max_deliveries": MAX_DELIVERIES,
        "ingest_partitions": PARTITIONS,
        "drain_budget_s": 5.0,
    }
    built = jobs.init_services(settings.model_copy(update=update))
    yield built
    built.close()
    jobs.init_services(settings)


def publish_requests(services: Services, requests: int) -> list[Published]:
    units = ["acme", "unit2", "unit3"]
    return [
        publish_records(
            services.redis,
            services.settings,
            1,
            "orders",
            [
                record(i, f"o-{n}-{i}", n + i / 10, units[i % 3], {"amount": 1.0 + i, "qty": 1})
                for i in range(40)
            ],
        )
        for n in range(requests)
    ]


def backlog(services: Services) -> int:
    return sum(streams.backlog(services.redis, range(PARTITIONS)).values())


def test_a_database_outage_longer_than_the_delivery_limit_quarantines_nothing(
    proxied: Services, proxy: TcpProxy, catalog: Catalog, db: Engine
) -> None:
    services = proxied
    published = publish_requests(services, 8)
    proxy.cut()
    started, runs = time.monotonic(), 0
    while runs < 3 * MAX_DELIVERIES or time.monotonic() - started < OUTAGE_S:
        jobs.trigger_drain(services, range(PARTITIONS))
        run_burst_worker(services)
        runs += 1
        time.sleep(CLAIM_IDLE_MS / 1000 * 1.2)  # every pending entry is reclaimed each round
    assert stored_identities(db) == []  # the database really was away
    keys = [streams.stream_key(p) for p in range(PARTITIONS)]
    assert sum(streams.pending_counts(services.redis, keys).values()) > 0  # delivered, failed

    proxy.restore()
    for _ in range(20):  # bounded: one round normally drains everything
        if backlog(services) == 0:
            break
        time.sleep(CLAIM_IDLE_MS / 1000 * 1.2)
        jobs.trigger_drain(services, range(PARTITIONS))
        run_burst_worker(services)
    assert backlog(services) == 0

    assert quarantine_rows(db) == []
    assert stored_identities(db) == sorted(accepted_events(published))
    want, have = expected_rollups(published, catalog), all_rollups(db)
    assert [p for t in want for p in rollup_differences(t, want[t], have[t])] == []
