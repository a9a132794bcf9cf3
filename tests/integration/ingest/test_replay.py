"""Quarantine replay: after a contract fix, exactly the records that now pass are re-ingested."""

from __future__ import annotations

import uuid
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from cli.main import cli
from ingest import jobs, streams
from ingest.replay import replay_source
from ingest.runtime import Services
from integration.drain_support import (
    catalog,
    publish_records,
    quarantine_rows,
    record,
    run_burst_worker,
    services,
    stored_identities,
)
from integration.factories import Catalog, insert_unit
from models.audit import Actor
from models.catalog import ensure_contract
from models.contracts import FieldRole, FieldSpec, FieldType
from models.logs import AuditLog
from models.sources import Source

__all__ = ["catalog", "services"]  # fixtures

STEWARD = Actor("steward@example.com")


def orders_fields(max_amount: float) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(name="event_id", type=FieldType.STRING, role=FieldRole.EVENT_ID),
        FieldSpec(name="ts", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
        FieldSpec(name="org_unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT),
        FieldSpec(name="amount", type=FieldType.FLOAT, role=FieldRole.MEASURE, max=max_amount),
        FieldSpec(name="qty", type=FieldType.INT, role=FieldRole.MEASURE, required=False),
        FieldSpec(name="channel", type=FieldType.STRING, role=FieldRole.DIMENSION, required=False),
    )


def set_contract(db: Engine, max_amount: float) -> None:
    with Session(db) as session, session.begin():
        source = session.scalars(select(Source).where(Source.key == "orders")).one()
        ensure_contract(session, source, orders_fields(max_amount), STEWARD, note="fix")


def event(event_id: str, amount: float, unit: str = "unit2") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "ts": "2026-03-02T10:15:00+00:00",
        "org_unit": unit,
        "amount": amount,
        "qty": 2,
        "channel": "web",
    }


def quarantine_at_the_edge(services: Services, payloads: list[Any], raw: str) -> None:
    """Rejections as the API sends them (contract v1: amount at most 100), drained."""
    batch = str(uuid.uuid4())
    too_big = "'amount' must be at most 100"
    rejections = [
        streams.Rejection(batch, 1, "orders", 1, i, "amount", "max", too_big, payload=p)
        for i, p in enumerate(payloads)
    ]
    rejections.append(streams.Rejection(batch, 1, "orders", 1, 99, None, "json", "", raw=raw))
    streams.publish(services.redis, {}, rejections, max_backlog=100)
    jobs.trigger_drain(services, [], rejections=True)
    run_burst_worker(services)


def statuses(db: Engine) -> dict[str, tuple[str, str, int | None]]:
    """By event id (or the raw text): status, rule and contract version."""
    with db.connect() as connection:
        rows = connection.execute(
            text("SELECT payload, raw, status, rule, contract_version FROM quarantine")
        )
        return {
            (payload or {}).get("event_id", raw): (str(status), rule, version)
            for payload, raw, status, rule, version in rows
        }


def test_replay_reingests_what_passes_now_and_keeps_the_rest_with_the_new_reason(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    set_contract(db, max_amount=100)
    quarantine_at_the_edge(
        services,
        [event("fixed", 150), event("too-big", 5000), event("lost", 150, "atlantis")],
        raw='{"event_id": ',
    )
    # A record quarantined by the worker for its unit, whose unit exists by now.
    late = [record(0, "late-unit", 3, "unit9", {"amount": 7.0, "qty": 1.0})]
    publish_records(services.redis, services.settings, 1, "orders", late)
    jobs.sweep()
    run_burst_worker(services)
    with db.begin() as connection:
        insert_unit(connection, 9, "unit9", "region", "1.9", 1)
    set_contract(db, max_amount=1000)  # the fix: a new, audited contract version

    report = replay_source(services, "orders", STEWARD, note="max raised to 1000")
    run_burst_worker(services)

    counts = (report.examined, report.replayed, report.still_failing, report.unreadable)
    assert counts == (5, 2, 2, 1)
    assert dict(report.by_rule) == {"max": 1, "unknown_org_unit": 1}
    assert statuses(db) == {
        "fixed": ("replayed", "max", 1),
        "late-unit": ("replayed", "unknown_org_unit", 1),
        "too-big": ("open", "max", 2),
        "lost": ("open", "unknown_org_unit", 2),
        '{"event_id": ': ("open", "json", 1),
    }
    reasons = {r["payload"]["event_id"]: r["reason"] for r in quarantine_rows(db) if r["payload"]}
    assert reasons["too-big"] == "'amount' must be at most 1000.0"
    assert reasons["lost"] == "unknown org unit 'atlantis'"
    assert sorted(e for _, e, _ in stored_identities(db)) == ["fixed", "late-unit"]
    with Session(db) as session:
        (audit,) = session.scalars(select(AuditLog).where(AuditLog.action == "quarantine.replay"))
    assert audit.actor == STEWARD.name
    assert (audit.detail["replayed"], audit.detail["still_failing"]) == (2, 2)

    # Replayed records are not replayed again; the rest is examined again.
    again = replay_source(services, "orders", STEWARD)
    assert (again.examined, again.replayed) == (3, 0)


def test_a_dry_run_changes_nothing_and_a_reason_filter_narrows_the_replay(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    set_contract(db, max_amount=100)
    quarantine_at_the_edge(services, [event("a", 150), event("b", 150)], raw="{")
    set_contract(db, max_amount=1000)
    before = statuses(db)

    dry = replay_source(services, "orders", STEWARD, dry_run=True)
    assert (dry.examined, dry.replayed) == (3, 2)
    assert statuses(db) == before
    partitions = range(services.settings.ingest_partitions)
    assert sum(streams.backlog(services.redis, partitions).values()) == 0
    replays = "SELECT count(*) FROM audit_log WHERE action = 'quarantine.replay'"
    with db.connect() as connection:
        assert connection.execute(text(replays)).scalar_one() == 0

    only_json = replay_source(services, "orders", STEWARD, match="json")
    assert (only_json.examined, only_json.replayed, only_json.unreadable) == (1, 0, 1)


def test_the_replay_command_reports_its_counts(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    set_contract(db, max_amount=100)
    quarantine_at_the_edge(services, [event("a", 150)], raw="{")
    set_contract(db, max_amount=1000)

    result = CliRunner().invoke(
        cli, ["quarantine", "replay", "--source", "orders", "--reason", "max", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "1 open record(s) examined, 1 would be re-ingested, 0 still failing" in result.output
    assert statuses(db)["a"][0] == "open"

    missing = CliRunner().invoke(cli, ["quarantine", "replay", "--source", "nope"])
    assert missing.exit_code != 0
    assert "no source with key 'nope'" in missing.output
