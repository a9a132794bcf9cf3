"""Data versions are durable with the data: a crash after the commit never leaves the answer
cache stale.

The drain commits, acknowledges, then copies the new data versions to Redis. A worker that
dies after its commit and before that copy used to leave Redis's versions behind, so cached
answers were served stale until their TTL (the redelivered batch is all duplicates and moves
nothing). The versions are now raised in the write transaction itself, and the sweep (every
5 s, and any drain that reclaims a dead worker's entries) copies them to Redis again.

The world is the KPI page's (``kpi_support``): revenue in ``unit2`` over 7 days is 300 EUR.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence

import pytest
import redis
from flask.testing import FlaskClient
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, text

from dashboard.shell import live
from ingest import jobs, pipeline, streams, versions
from ingest.runtime import Services
from integration.drain_support import TEST_SETTINGS, run_burst_worker, ts_us
from integration.executive.kpi_support import GLOBAL, NOW, ORDERS, World, kpi_request, make_world
from models.settings import Settings

UPDATE = "/_dash-update-component"


class Crash(BaseException):
    """The worker process dying at this point (nothing after it runs, no handler catches it)."""


@pytest.fixture
def world(
    db: Engine, redis_client: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    frozen = dt.datetime.now(dt.UTC)  # answers depend on the minute: keep one for the test
    monkeypatch.setattr(live, "utc_now", lambda: frozen)
    yield from make_world(db, settings)


@pytest.fixture
def drain_services(world: World, settings: Settings) -> Iterator[Services]:
    built = jobs.init_services(settings.model_copy(update=TEST_SETTINGS))
    yield built
    built.close()
    jobs.init_services(settings)


def revenue(client: FlaskClient) -> str:
    """The KPI page's answer for revenue in unit2 over 7 days, as text."""
    response = client.post(UPDATE, json=kpi_request({"kpi": "revenue", "unit": "unit2"}, "7d"))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)


def publish_order(services: Services, amount: float) -> int:
    """An accepted order in unit2-de a minute ago, as the API publishes it; its partition."""
    rec = streams.StreamRecord(
        0, f"o-{uuid.uuid4().hex[:8]}", ts_us(NOW - dt.timedelta(minutes=1)), "unit2-de",
        {"amount": amount}, {"channel": "web"}, {},
    )  # fmt: skip
    partition = streams.partition_of(ORDERS, "unit2-de", services.settings.ingest_partitions)
    envelope = streams.Envelope(str(uuid.uuid4()), ORDERS, "orders", 1, time.time(), [rec])
    streams.publish(services.redis, {partition: envelope}, [], max_backlog=1_000)
    return partition


def stored_orders(engine: Engine) -> int:
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM events WHERE source_id = :s")
        return int(connection.execute(query, {"s": ORDERS}).scalar_one())


Ack = Callable[[redis.Redis, str, Sequence[bytes]], None]


def crash_at_the_ack(real: Ack, *, after: bool) -> Ack:
    """``streams.ack_and_delete`` dying at the first acknowledgement of a committed batch
    (the reclaim's call with nothing to acknowledge goes through), before or after it."""

    def crash(client: redis.Redis, key: str, ids: Sequence[bytes]) -> None:
        if not ids:
            return
        if after:
            real(client, key, ids)
        raise Crash(f"killed after the commit, {'after' if after else 'before'} the ack")

    return crash


def run_the_sweep(services: Services) -> None:
    """What runs every 5 s after any crash: the cron's sweep, then the drains it triggers."""
    queue = Queue(jobs.QUEUE, connection=services.redis, serializer=JSONSerializer)
    queue.enqueue(jobs.sweep)
    run_burst_worker(services)


@pytest.mark.parametrize("moment", ["before the ack", "after the ack"])
def test_a_worker_dying_between_commit_and_version_bump_leaves_no_stale_answer(
    world: World,
    drain_services: Services,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
) -> None:
    services, grace = drain_services, world.client(GLOBAL)
    assert "300.00 EUR" in revenue(grace)
    assert "300.00 EUR" in revenue(grace)  # cached now
    before = stored_orders(world.engine)

    partition = publish_order(services, 25.0)
    crash = crash_at_the_ack(streams.ack_and_delete, after=moment == "after the ack")
    with monkeypatch.context() as patch:
        patch.setattr(streams, "ack_and_delete", crash)
        with pytest.raises(Crash):
            pipeline.drain_partition(services, partition, "doomed-worker", 5.0)
    assert stored_orders(world.engine) == before + 1  # committed

    run_the_sweep(services)
    assert "325.00 EUR" in revenue(grace)
    assert stored_orders(world.engine) == before + 1  # the redelivery stored nothing twice


def test_the_versions_redis_holds_are_the_ones_postgresql_committed(
    world: World, drain_services: Services
) -> None:
    services = drain_services
    jobs.trigger_drain(services, [publish_order(services, 5.0), publish_order(services, 7.0)])
    run_burst_worker(services)
    with world.engine.connect() as connection:
        rows = connection.execute(text("SELECT name, version FROM data_versions")).all()
    durable = {str(name): int(version) for name, version in rows}
    assert versions.GLOBAL_KEY in durable
    assert versions.metric_key(3) in durable  # revenue's metric, orders.amount
    assert {k: int(services.redis.get(k) or 0) for k in durable} == durable


def test_a_redis_that_lost_its_data_gets_the_versions_back_not_zero(
    world: World, drain_services: Services
) -> None:
    """Versions restarting at 0 would meet answers cached under 0 long ago (a separate cache
    Redis keeps them): the sweep puts PostgreSQL's values back."""
    services = drain_services
    jobs.trigger_drain(services, [publish_order(services, 5.0)])
    run_burst_worker(services)
    kept = versions.global_version(services.redis)
    assert kept >= 1
    services.redis.delete(versions.GLOBAL_KEY, versions.metric_key(3))
    run_the_sweep(services)
    assert versions.global_version(services.redis) == kept
    assert versions.current(services.redis, [3])[3] >= 1


def test_a_copy_arriving_late_never_moves_a_version_back(redis_client: redis.Redis) -> None:
    key = versions.metric_key(42)
    assert versions.publish(redis_client, {key: 6}) == 1
    assert versions.publish(redis_client, {key: 5}) == 0  # the earlier commit's copy, late
    assert versions.publish(redis_client, {key: 6}) == 0  # a resync of what is there
    assert int(redis_client.get(key) or 0) == 6
