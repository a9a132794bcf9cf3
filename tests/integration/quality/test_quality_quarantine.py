"""Validity, referential integrity and schema drift: what the ingest quarantined or counted,
judged per source and window."""

from __future__ import annotations

import datetime as dt
import uuid

import redis
from sqlalchemy import Engine, text

from ingest import drift, jobs, streams
from ingest.runtime import Services
from integration.drain_support import publish_records, run_burst_worker, services, ts_us
from integration.quality_support import (
    JUDGED,
    NOW,
    ORDERS,
    World,
    latest,
    rows,
    run,
    world,
    write_window,
)
from models.quality.tables import CheckKey, DqState, IncidentStatus, Severity
from models.quality.windows import window_at
from models.quarantine_store import QuarantineRow, insert_quarantined
from models.settings import Settings

__all__ = ["services", "world"]  # fixtures

SETTLE = dt.timedelta(minutes=2)


def test_an_unknown_org_unit_lands_in_quarantine_and_is_counted_by_referential_integrity(
    world: World, services: Services, db: Engine, settings: Settings
) -> None:
    moment = ts_us(dt.datetime.now(dt.UTC))
    records = [
        streams.StreamRecord(i, f"o-{i}", moment, unit, {"amount": 5.0}, {}, {})
        for i, unit in enumerate(["unit2"] * 8 + ["atlantis", "atlantis"])
    ]
    publish_records(services.redis, services.settings, ORDERS, "orders", records)
    jobs.sweep()
    run_burst_worker(services)

    quarantined = rows(db, "SELECT rule, reason, received_at FROM quarantine")
    assert [(q["rule"], q["reason"]) for q in quarantined] == [
        ("unknown_org_unit", "unknown org unit 'atlantis'")
    ] * 2
    assert rows(db, "SELECT count(*) AS n FROM events") == [{"n": 8}]  # not misfiled
    judged = window_at(quarantined[0]["received_at"])
    run(db, settings, judged.end + SETTLE)

    result = latest(db, ORDERS, CheckKey.REFERENTIAL_INTEGRITY)
    assert (result.window_start, result.window_end) == (judged.start, judged.end)
    assert result.value == 2.0
    assert result.state is DqState.FAILING  # well over 1 % of the window's records
    assert "unknown org unit 'atlantis' (x2)" in result.summary
    assert result.context["by_rule"] == {"unknown_org_unit": 2}
    validity = latest(db, ORDERS, CheckKey.VALIDITY)
    assert validity.context["by_rule"] == {"unknown_org_unit": 2}


def quarantine(db: Engine, rule: str, n: int, at: dt.datetime) -> None:
    batch = uuid.uuid4()
    found = [QuarantineRow(ORDERS, "orders", 1, batch, i, rule, f"broken {rule}") for i in range(n)]
    with db.begin() as connection:
        insert_quarantined(connection, found)
        connection.execute(
            text("UPDATE quarantine SET received_at = :at WHERE batch_id = :b"),
            {"at": at, "b": batch},
        )


def test_validity_is_the_rejected_share_of_a_window_by_rule(
    world: World, db: Engine, settings: Settings
) -> None:
    write_window(db, ORDERS, JUDGED, 92)
    quarantine(db, "max", 6, JUDGED.start + dt.timedelta(minutes=3))
    quarantine(db, "json", 2, JUDGED.start + dt.timedelta(minutes=14))
    quarantine(db, "max", 50, JUDGED.end)  # the next window's

    run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.VALIDITY)
    assert result.state is DqState.WARNING  # 8 % is over 2 %, under 10 %
    assert result.value == 0.08
    assert result.summary == "8.0% of 100 records rejected (max 6, json 2)"
    assert result.context == {"by_rule": {"max": 6, "json": 2}, "rejected": 8, "stored": 92}
    assert latest(db, ORDERS, CheckKey.REFERENTIAL_INTEGRITY).state is DqState.OK


def count_drift(client: redis.Redis, records: int, coupon: int, at: dt.datetime) -> None:
    tally = drift.DriftTally()
    for n in range(records):
        tally.add(["coupon"] if n < coupon else [])
    drift.count_drift(client, ORDERS, 1, tally, window_s=900, now=at.timestamp())


def test_drift_opens_an_incident_that_recovers_when_the_drift_stops(
    world: World, db: Engine, settings: Settings, redis_client: redis.Redis
) -> None:
    count_drift(redis_client, 200, 10, JUDGED.start + dt.timedelta(minutes=1))
    count_drift(redis_client, 200, 0, JUDGED.end + dt.timedelta(minutes=1))
    recorded = drift.evaluate_windows(
        redis_client,
        db,
        window_s=900,
        threshold=0.01,
        now=(NOW + dt.timedelta(minutes=15)).timestamp(),
    )
    assert recorded == 1

    report = run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.SCHEMA_DRIFT)
    assert result.state is DqState.FAILING
    assert (
        result.summary == "1 drifting field(s): 'coupon' not in the contract in 5.0% (contract v1)"
    )
    (incident,) = rows(
        db,
        "SELECT i.id, CAST(i.severity AS text) AS severity, i.title FROM incidents i "
        "JOIN dq_checks c ON c.id = i.check_id WHERE c.key = 'schema_drift'",
    )
    assert incident["id"] in report.incidents.opened
    assert incident["severity"] == Severity.WARNING.value
    assert incident["title"] == "Schema drift failing on Orders"

    later = run(db, settings, NOW + dt.timedelta(minutes=15))

    assert latest(db, ORDERS, CheckKey.SCHEMA_DRIFT).state is DqState.OK
    assert incident["id"] in later.incidents.recovered
    (status,) = rows(
        db, "SELECT CAST(status AS text) AS s FROM incidents WHERE id = :i", {"i": incident["id"]}
    )
    assert status["s"] == IncidentStatus.RECOVERED.value
