"""The drain: stream entries become events and rollups once, bad ones land in quarantine."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import redis
from flask import Flask
from prometheus_client import REGISTRY
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest import api, jobs, pipeline, streams, versions
from ingest.runtime import Services
from integration.drain_support import (
    BASE,
    Published,
    accepted_events,
    catalog,
    expected_rollups,
    publish_records,
    quarantine_rows,
    record,
    run_burst_worker,
    services,
    stored_identities,
)
from integration.factories import Catalog, all_rollups, require_native, rollup_differences
from models.api_keys import create_key
from models.audit import Actor
from models.catalog import OrgUnitSpec, SourceSpec, upsert_org_unit, upsert_source
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import OrgLevel, RefreshMode

__all__ = ["catalog", "services"]  # fixtures


def orders(
    services: Services, records: list[streams.StreamRecord], batch_id: str | None = None
) -> Published:
    return publish_records(
        services.redis, services.settings, 1, "orders", records, batch_id=batch_id
    )


def drain_everything(services: Services, published: list[Published]) -> None:
    partitions = {p for batch in published for p in batch.partitions}
    jobs.trigger_drain(services, partitions)
    run_burst_worker(services)


def assert_stored_exactly(engine: Engine, published: list[Published], catalog: Catalog) -> None:
    accepted = accepted_events(published)
    known = sorted(k for k, rec in accepted.items() if rec.org_unit != "atlantis")
    assert stored_identities(engine) == known
    want = expected_rollups(published, catalog)
    have = all_rollups(engine)
    problems = [p for table in want for p in rollup_differences(table, want[table], have[table])]
    assert problems == []


def test_accepted_events_land_once_in_events_and_in_every_rollup(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    published = [
        orders(
            services,
            [
                record(i, f"o{i}", i * 7.5, unit, {"amount": 10.0 + i, "qty": 1 + i % 3})
                for i, unit in enumerate(["acme", "unit2", "unit3"] * 20)
            ],
        ),
        publish_records(
            services.redis,
            services.settings,
            2,
            "tickets",
            [record(i, f"t{i}", i * 3.0, "unit3", {"minutes": 4.5 * i}) for i in range(30)],
        ),
    ]
    drain_everything(services, published)

    assert_stored_exactly(db, published, catalog)
    # Everything committed was acknowledged and deleted: nothing is left waiting.
    partitions = range(services.settings.ingest_partitions)
    assert sum(streams.backlog(services.redis, partitions).values()) == 0


def test_a_batch_that_needs_new_day_partitions_for_two_sources_commits_at_once(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    # Regression: the second source's missing partition used to be created on another
    # connection while the batch's transaction held locks on events: a self-deadlock.
    partition = 0
    later = 3 * 24 * 60.0  # three days after BASE: a day nobody has written to yet

    def envelope(source_id: int, key: str, recs: list[streams.StreamRecord]) -> Published:
        batch = str(uuid.uuid4())
        env = streams.Envelope(batch, source_id, key, 1, time.time(), recs)
        streams.publish(services.redis, {partition: env}, [], max_backlog=1_000)
        return Published(source_id, key, tuple(recs), batch, (partition,))

    published = [
        envelope(1, "orders", [record(0, "o0", 1.0, measures={"amount": 5.0, "qty": 1})]),
        envelope(2, "tickets", [record(0, "t0", later, "unit3", {"minutes": 3.0})]),
    ]
    report = pipeline.drain_partition(services, partition, "solo", budget_s=5.0)

    assert (report.batches, report.failed, report.stored) == (1, 0, 2)
    assert_stored_exactly(db, published, catalog)


def test_a_retried_batch_and_duplicates_do_not_count_twice(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    records = [record(i, f"o{i}", i, "unit2", {"amount": 5.0}) for i in range(40)]
    first = orders(services, records, batch_id=str(uuid.uuid4()))
    drain_everything(services, [first])

    # The producer retries the same request (a lost 202), and sends some events again.
    retried = orders(services, records, batch_id=first.batch_id)
    overlapping = orders(
        services, [*records[:10], record(0, "new", 50, "unit2", {"amount": 1.0}), *records[:3]]
    )
    drain_everything(services, [retried, overlapping])

    assert_stored_exactly(db, [first, retried, overlapping], catalog)
    assert len(stored_identities(db)) == 41


def test_an_unknown_org_unit_is_quarantined_with_its_reason_and_counted(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    counted = {"source": "orders", "rule": "unknown_org_unit"}
    before = REGISTRY.get_sample_value("northstar_ingest_records_quarantined_total", counted)
    records = [
        record(0, "good", 1, "unit2", {"amount": 3.0}),
        record(1, "lost", 2, "atlantis", {"amount": 4.0}),
    ]
    batch = orders(services, records)
    drain_everything(services, [batch])
    # Drained again (a redelivery): still one quarantine row.
    orders(services, records, batch_id=batch.batch_id)
    drain_everything(services, [batch])

    assert_stored_exactly(db, [batch], catalog)
    rows = quarantine_rows(db)
    assert [(r["rule"], r["record_index"], r["status"]) for r in rows] == [
        ("unknown_org_unit", 1, "open")
    ]
    assert "'atlantis'" in rows[0]["reason"]
    # The payload is the record as sent, so a replay can re-validate it.
    assert rows[0]["payload"]["event_id"] == "lost"
    assert rows[0]["payload"]["amount"] == 4.0
    after = REGISTRY.get_sample_value("northstar_ingest_records_quarantined_total", counted)
    assert (after or 0) - (before or 0) == 1


def test_a_record_that_cannot_be_written_is_quarantined_and_its_siblings_stored(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    require_native(db)  # TimescaleDB sums at refresh time: there no write is refused
    # The minute's total would overflow double precision: PostgreSQL refuses the whole write,
    # so the entry's records are tried alone and only the culprit is quarantined, at once.
    stored = orders(services, [record(0, "big", 1, "unit2", {"amount": 1.5e308})])
    drain_everything(services, [stored])
    mixed = [
        record(0, "huge", 1, "unit2", {"amount": 1.5e308}),
        record(1, "sibling", 1, "unit2", {"amount": 2.0}),
    ]
    poison = orders(services, mixed)
    (partition,) = poison.partitions
    good = [orders(services, [record(0, f"g{i}", 2, "unit2", {"amount": 1.0})]) for i in range(5)]
    assert all(g.partitions == (partition,) for g in good)
    key = streams.stream_key(partition)

    report = pipeline.drain_partition(services, partition, "w1", 5.0)
    assert (report.failed, report.poisoned, report.quarantined) == (0, 0, 1)
    assert report.stored == 6

    (row,) = quarantine_rows(db)
    assert (row["rule"], row["record_index"]) == ("unwritable", 0)
    assert "out of range" in row["reason"]  # the error, from PostgreSQL
    assert float(row["payload"]["amount"]) == 1.5e308
    assert streams.backlog(services.redis, [partition]) == {partition: 0}
    assert streams.pending_counts(services.redis, [key])[key] == 0
    sibling = Published(1, "orders", (mixed[1],), poison.batch_id, poison.partitions)
    assert_stored_exactly(db, [stored, *good, sibling], catalog)


def test_an_entry_delivered_too_often_is_quarantined_as_poison(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    """A worker that died mid-batch each time leaves no error: past the limit, poison."""
    poison = orders(services, [record(0, "died", 1, "unit2", {"amount": 1.0})])
    (partition,) = poison.partitions
    key = streams.stream_key(partition)
    streams.ensure_group(services.redis, key)
    streams.read_new(services.redis, key, "dead", count=10, block_ms=None)
    for _ in range(services.settings.ingest_max_deliveries - 1):
        time.sleep(0.005)  # idle longer than the test's 1 ms claim time
        streams.claim_stale(services.redis, key, "dead", min_idle_ms=1, count=10)

    time.sleep(0.005)
    report = pipeline.drain_partition(services, partition, "w1", 5.0)
    assert report.poisoned == 1

    (row,) = quarantine_rows(db)
    assert row["rule"] == "poison"
    assert "delivered 4 times (limit 3)" in row["reason"]
    assert "none recorded" in row["reason"]
    assert streams.backlog(services.redis, [partition]) == {partition: 0}
    assert stored_identities(db) == []


def test_rejections_from_the_edge_land_in_quarantine_once_even_if_drained_twice(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    batch_id = str(uuid.uuid4())
    wrong_type = "'amount' must be a number, got string"
    rejections = [
        streams.Rejection(
            batch_id, 1, "orders", 1, 0, "amount", "type", wrong_type, payload={"amount": "ten"}
        ),
        streams.Rejection(batch_id, 1, "orders", 1, 2, None, "json", "not JSON", raw="{oops"),
    ]
    for _ in range(2):  # the same request's rejections published (and drained) twice
        streams.publish(services.redis, {}, rejections, max_backlog=100)
        jobs.trigger_drain(services, [], rejections=True)
        run_burst_worker(services)

    rows = quarantine_rows(db)
    assert [(r["record_index"], r["rule"], r["field"]) for r in rows] == [
        (0, "type", "amount"),
        (2, "json", None),
    ]
    assert rows[0]["payload"] == {"amount": "ten"}
    assert services.redis.xlen(streams.QUARANTINE_STREAM) == 0


def test_data_versions_move_for_the_changed_metrics_only(
    services: Services, catalog: Catalog
) -> None:
    watched = [catalog.metric("orders"), catalog.metric("orders", "amount")]
    untouched = [catalog.metric("orders", "qty"), catalog.metric("tickets")]
    batch = orders(services, [record(i, f"o{i}", i, "unit2", {"amount": 2.0}) for i in range(6)])
    drain_everything(services, [batch])

    assert set(versions.current(services.redis, watched).values()) == {1}
    assert versions.current(services.redis, untouched) == dict.fromkeys(untouched, 0)
    assert versions.global_version(services.redis) >= 1

    # A retried batch changes nothing stored, so no cached answer needs to be dropped.
    before = versions.global_version(services.redis)
    orders(services, list(batch.records), batch_id=batch.batch_id)
    drain_everything(services, [batch])
    assert versions.global_version(services.redis) == before
    assert set(versions.current(services.redis, watched).values()) == {1}


def _closed(services: Services, metric_ids: list[int]) -> list[int]:
    keys = [versions.closed_metric_key(m) for m in metric_ids]
    return [int(v or 0) for v in services.redis.mget(keys)]


def test_only_events_before_the_current_hour_move_the_closed_versions(
    services: Services, catalog: Catalog
) -> None:
    watched = [catalog.metric("orders"), catalog.metric("orders", "amount")]
    hour = versions.current_hour(dt.datetime.now(dt.UTC))
    minutes_to_now = (dt.datetime.now(dt.UTC) - BASE).total_seconds() / 60
    current = orders(services, [record(0, "now-1", minutes_to_now, "unit2", {"amount": 1.0})])
    drain_everything(services, [current])
    assert set(versions.current(services.redis, watched).values()) == {1}
    if versions.current_hour(dt.datetime.now(dt.UTC)) == hour:  # the hour did not turn meanwhile
        assert _closed(services, watched) == [0, 0]
    late = orders(services, [record(1, "late-1", 5, "unit2", {"amount": 1.0})])
    drain_everything(services, [late])
    # TimescaleDB: the refresh job bumps them again once the late event is materialised.
    assert all(v >= 2 for v in versions.current(services.redis, watched).values())
    assert all(v >= 1 for v in _closed(services, watched))
    assert _closed(services, [catalog.metric("tickets")]) == [0]


def test_arrivals_enqueue_one_drain_per_partition_until_it_starts(
    services: Services, redis_client: redis.Redis
) -> None:
    queue = Queue(jobs.INGEST_QUEUE, connection=services.redis, serializer=JSONSerializer)
    for _ in range(5):
        jobs.trigger_drain(services, [0, 1])
    assert sorted(job.args[0] for job in queue.get_jobs()) == [0, 1]

    run_burst_worker(services)  # the jobs start (and clear their flags)
    assert jobs.trigger_drain(services, [1]) == [1]
    assert [job.args[0] for job in queue.get_jobs()] == [1]


def test_the_sweep_drains_what_no_trigger_announced(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    batch = orders(services, [record(i, f"s{i}", i, "acme", {"amount": 1.0}) for i in range(8)])
    jobs.sweep()
    run_burst_worker(services)
    assert_stored_exactly(db, [batch], catalog)


def test_end_to_end_through_the_api_an_unknown_unit_is_quarantined_and_the_rest_stored(
    services: Services, db: Engine
) -> None:
    actor = Actor("tests")
    fields = (
        FieldSpec(name="id", type=FieldType.STRING, role=FieldRole.EVENT_ID),
        FieldSpec(name="at", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
        FieldSpec(name="unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT),
        FieldSpec(name="amount", type=FieldType.FLOAT, role=FieldRole.MEASURE),
    )
    with Session(db) as session, session.begin():
        upsert_org_unit(session, OrgUnitSpec("hq", "HQ", OrgLevel.COMPANY), actor)
        source = upsert_source(
            session,
            SourceSpec("sales", "Sales", "hq", RefreshMode.STREAMING, 300, None, 30, fields),
            actor,
        )
        key = create_key(session, source, actor)
    app = Flask("pipeline-e2e")
    api.init_app(app, services)
    body = [
        {"id": f"s{n}", "at": f"2026-03-02T10:0{n}:00Z", "unit": "hq", "amount": n}
        for n in range(4)
    ] + [{"id": "x", "at": "2026-03-02T10:05:00Z", "unit": "mars", "amount": 1}]

    response = app.test_client().post(
        "/api/v1/sources/sales/events", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    run_burst_worker(services)  # the API triggered the drains

    with db.connect() as connection:
        stored = connection.execute(text("SELECT sum((measures->>'amount')::float) FROM events"))
        assert stored.scalar_one() == 0 + 1 + 2 + 3
        daily = "SELECT sum(total) FROM rollup_1d r JOIN metrics m ON m.id = r.metric_id "
        total = connection.execute(text(daily + "WHERE m.measure = 'amount'")).scalar_one()
    assert total == 6
    (row,) = quarantine_rows(db)
    assert (row["rule"], row["record_index"], row["field"]) == ("unknown_org_unit", 4, "unit")
    sent_again = {"id": "x", "at": "2026-03-02T10:05:00+00:00", "unit": "mars", "amount": 1.0}
    assert row["payload"] == sent_again
