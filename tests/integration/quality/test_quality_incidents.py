"""Incidents: escalation on a controllable clock, steward actions, permissions, audit, queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest.quality import jobs, runner
from ingest.runtime import Services
from integration.drain_support import services
from integration.quality_support import (
    LADDER,
    ORDERS,
    TICKETS,
    World,
    count,
    rows,
    run,
    window_starting,
    world,
    write_window,
)
from models.notifications import mark_read, notifications_for
from models.permissions import AccessDenied, Principal
from models.quality import actions
from models.quality.actions import IncidentStateError
from models.quality.escalation import EscalationPolicy, Level
from models.quality.results import ensure_checks
from models.quality.tables import IncidentEventKind, IncidentStatus, Severity
from models.queries.steward.incidents import (
    IncidentFilter,
    IncidentNotFound,
    get_incident,
    incident_timeline,
    list_incidents,
)
from models.settings import Settings

__all__ = ["services", "world"]  # fixtures

MIN = dt.timedelta(minutes=1)
SECOND = dt.timedelta(seconds=1)
WINDOW = window_starting(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC))
OPENED_AT = dt.datetime(2026, 3, 2, 10, 20, 30, tzinfo=dt.UTC)
"""Six minutes after the newest order (10:14:30): the orders' freshness SLA is 5 minutes."""
POLICY = EscalationPolicy(dict(LADDER))


def open_incident(db: Engine, settings: Settings, policy: EscalationPolicy = POLICY) -> int:
    """A (critical) freshness incident on the orders, opened at OPENED_AT."""
    write_window(db, ORDERS, WINDOW, 30)
    write_window(db, TICKETS, WINDOW, 30)
    (incident_id,) = run(db, settings, OPENED_AT, policy=policy).incidents.opened
    return incident_id


def escalate(db: Engine, settings: Settings, at: dt.datetime) -> list[tuple[int, Level, list[str]]]:
    steps = runner.escalate(db, settings, at, policy=POLICY)
    return [(s.incident_id, s.level, [r.name for r in s.recipients]) for s in steps]


def notified(db: Engine, kind: str) -> list[tuple[int, str]]:
    found = rows(
        db, "SELECT user_id, link FROM notifications WHERE kind = :k ORDER BY user_id", {"k": kind}
    )
    return [(r["user_id"], r["link"]) for r in found]


def test_an_unacknowledged_incident_escalates_at_the_configured_times(
    world: World, db: Engine, settings: Settings
) -> None:
    incident_id = open_incident(db, settings)
    link = f"/steward/incidents/{incident_id}"

    assert escalate(db, settings, OPENED_AT + 15 * MIN - SECOND) == []
    assert escalate(db, settings, OPENED_AT + 15 * MIN) == [
        (incident_id, Level.OWNER_UNIT, ["Sam Steward", "Uma Unit", "Ada Admin"])
    ]
    # Everyone who may manage incidents of the owner unit is told; Rita's scope is elsewhere.
    assert notified(db, "incident.escalated") == [(1, link), (2, link), (4, link)]
    assert escalate(db, settings, OPENED_AT + 29 * MIN) == []
    assert escalate(db, settings, OPENED_AT + 30 * MIN) == [
        (incident_id, Level.ADMINS, ["Ada Admin"])
    ]
    assert escalate(db, settings, OPENED_AT + 5 * 60 * MIN) == []  # the top level

    steward = world.principal(db, world.people.steward)
    with db.connect() as connection:
        incident = get_incident(connection, steward, incident_id)
        timeline = incident_timeline(connection, steward, incident_id)
    assert (incident.escalation_level, incident.next_escalation_at) == (2, None)
    steps = [(e.kind, e.at, e.actor, e.detail.get("level")) for e in timeline]
    assert steps == [
        (IncidentEventKind.OPENED, OPENED_AT, "system", None),
        (IncidentEventKind.ESCALATED, OPENED_AT + 15 * MIN, "system", 1),
        (IncidentEventKind.ESCALATED, OPENED_AT + 30 * MIN, "system", 2),
    ]
    assert timeline[1].note == (
        "Not acknowledged within 15 min: escalated to the source's owner unit."
    )


def test_the_delay_depends_on_the_severity_and_comes_from_the_settings(
    world: World, db: Engine, settings: Settings
) -> None:
    with db.begin() as connection:  # a steward made freshness a warning
        ensure_checks(connection)
        connection.execute(
            text("UPDATE dq_checks SET severity = 'warning' WHERE key = 'freshness'")
        )
    configured = settings.model_copy(update={"dq_escalation_warning_s": 40 * 60})
    incident_id = open_incident(db, configured, EscalationPolicy.from_settings(configured))

    assert runner.escalate(db, configured, OPENED_AT + 39 * MIN) == []
    (step,) = runner.escalate(db, configured, OPENED_AT + 40 * MIN)

    assert (step.incident_id, step.level) == (incident_id, Level.OWNER_UNIT)
    (row,) = rows(db, "SELECT CAST(severity AS text) AS severity FROM incidents")
    assert row["severity"] == Severity.WARNING.value


def test_acknowledging_stops_the_escalation(world: World, db: Engine, settings: Settings) -> None:
    incident_id = open_incident(db, settings)
    colleague = world.principal(db, world.people.colleague)

    with Session(db) as session, session.begin():
        acknowledged = actions.acknowledge(
            session, colleague, incident_id, "Looking into it.", now=OPENED_AT + 5 * MIN
        )

    assert acknowledged.status is IncidentStatus.ACKNOWLEDGED
    assert acknowledged.acknowledged_by is not None
    assert acknowledged.acknowledged_by.name == "Uma Unit"
    assert acknowledged.next_escalation_at is None
    assert escalate(db, settings, OPENED_AT + 60 * MIN) == []
    assert notified(db, "incident.escalated") == []
    # Still failing: the acknowledged incident is updated, not escalated nor reopened.
    run(db, settings, OPENED_AT + 20 * MIN)
    with db.connect() as connection:
        assert (
            get_incident(connection, colleague, incident_id).status is IncidentStatus.ACKNOWLEDGED
        )


Action = Callable[[Session, Principal, int], Any]
ACTIONS: dict[str, Action] = {
    "acknowledge": lambda s, p, i: actions.acknowledge(s, p, i),
    "assign": lambda s, p, i: actions.assign(s, p, i, 2),
    "comment": lambda s, p, i: actions.comment(s, p, i, "a note"),
    "resolve": lambda s, p, i: actions.resolve(s, p, i, "done"),
}


def snapshot(db: Engine) -> dict[str, Any]:
    return {
        "incidents": rows(db, "SELECT * FROM incidents ORDER BY id"),
        "timeline": count(db, "incident_events"),
        "audit": count(db, "audit_log"),
        "notifications": count(db, "notifications"),
    }


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", ["executive", "regional"])
def test_actions_without_incident_manage_or_out_of_scope_are_refused_and_change_nothing(
    world: World, db: Engine, settings: Settings, action: str, who: str
) -> None:
    incident_id = open_incident(db, settings)
    principal = world.principal(db, getattr(world.people, who))
    before = snapshot(db)

    with Session(db) as session, session.begin(), pytest.raises(AccessDenied) as refused:
        ACTIONS[action](session, principal, incident_id)

    if who == "executive":
        assert str(refused.value) == "missing permission incident:manage"
    else:  # a steward of another unit: as if there were no such incident
        assert isinstance(refused.value, IncidentNotFound)
    assert snapshot(db) == before


def test_an_unknown_incident_is_not_found(world: World, db: Engine, settings: Settings) -> None:
    steward = world.principal(db, world.people.steward)
    with Session(db) as session, session.begin(), pytest.raises(IncidentNotFound):
        actions.acknowledge(session, steward, 404)


def test_every_action_is_in_the_timeline_and_the_audit_log(
    world: World, db: Engine, settings: Settings
) -> None:
    incident_id = open_incident(db, settings)
    steward = world.principal(db, world.people.steward)
    at = OPENED_AT + 2 * MIN
    with Session(db) as session, session.begin():
        actions.acknowledge(session, steward, incident_id, "On it.", now=at)
        actions.assign(
            session, steward, incident_id, world.people.colleague, "Uma knows it.", now=at
        )
        actions.comment(session, steward, incident_id, "Producer restarted.", now=at)
        resolved = actions.resolve(session, steward, incident_id, "Data flows again.", now=at)

    assert resolved.assignee is not None
    assert resolved.assignee.name == "Uma Unit"
    assert resolved.status is IncidentStatus.RESOLVED
    with db.connect() as connection:
        timeline = incident_timeline(connection, steward, incident_id)
    assert [(e.kind, e.actor, e.actor_id, e.note) for e in timeline[1:]] == [
        (IncidentEventKind.ACKNOWLEDGED, "Sam Steward", 1, "On it."),
        (IncidentEventKind.ASSIGNED, "Sam Steward", 1, "Uma knows it."),
        (IncidentEventKind.COMMENTED, "Sam Steward", 1, "Producer restarted."),
        (IncidentEventKind.RESOLVED, "Sam Steward", 1, "Data flows again."),
    ]
    audit = rows(
        db,
        "SELECT action, actor, actor_id, target_type, target_id, before, after, detail "
        "FROM audit_log ORDER BY id",
    )
    assert [(a["action"], a["actor"], a["actor_id"]) for a in audit] == [
        ("incident.acknowledge", "Sam Steward", 1),
        ("incident.assign", "Sam Steward", 1),
        ("incident.comment", "Sam Steward", 1),
        ("incident.resolve", "Sam Steward", 1),
    ]
    assert {(a["target_type"], a["target_id"]) for a in audit} == {("incident", str(incident_id))}
    assert (audit[0]["before"], audit[0]["after"]) == (
        {"status": "open", "acknowledged_by": None},
        {"status": "acknowledged", "acknowledged_by": 1},
    )
    assert audit[3]["detail"]["note"] == "Data flows again."
    assert notified(db, "incident.assigned") == [(2, f"/steward/incidents/{incident_id}")]


def test_actions_that_do_not_fit_are_refused(world: World, db: Engine, settings: Settings) -> None:
    incident_id = open_incident(db, settings)
    steward = world.principal(db, world.people.steward)
    with Session(db) as session, session.begin():
        actions.acknowledge(session, steward, incident_id)

    refusals: list[tuple[Action, type[Exception], str]] = [
        (lambda s, p, i: actions.acknowledge(s, p, i), IncidentStateError, "already acknowledged"),
        (lambda s, p, i: actions.resolve(s, p, i, "  "), ValueError, "a note is required"),
        (lambda s, p, i: actions.comment(s, p, i, "x" * 4001), ValueError, "at most 4000"),
        (lambda s, p, i: actions.assign(s, p, i, 3), IncidentStateError, "may manage incidents"),
        (lambda s, p, i: actions.assign(s, p, i, 5), IncidentStateError, "may manage incidents"),
    ]
    for action, error, message in refusals:
        with Session(db) as session, session.begin(), pytest.raises(error, match=message):
            action(session, steward, incident_id)
    assert count(db, "audit_log") == 1

    with Session(db) as session, session.begin():
        actions.resolve(session, steward, incident_id, "fixed")
    with (
        Session(db) as session,
        session.begin(),
        pytest.raises(IncidentStateError, match="resolved"),
    ):
        actions.resolve(session, steward, incident_id, "again")


def test_the_queue_filters_and_shows_only_incidents_in_scope(
    world: World, db: Engine, settings: Settings
) -> None:
    incident_id = open_incident(db, settings)
    steward = world.principal(db, world.people.steward)
    with db.connect() as connection:
        everything = list_incidents(connection, steward)
        critical_open = list_incidents(
            connection,
            steward,
            IncidentFilter(statuses=[IncidentStatus.OPEN], severities=[Severity.CRITICAL]),
        )
        of_tickets = list_incidents(connection, steward, IncidentFilter(source_ids=[TICKETS]))
        owned = list_incidents(connection, steward, IncidentFilter(owner_user_id=1))
        acknowledged = list_incidents(
            connection, steward, IncidentFilter(statuses=[IncidentStatus.ACKNOWLEDGED])
        )
        elsewhere = list_incidents(connection, world.principal(db, world.people.regional))
        with pytest.raises(AccessDenied):
            list_incidents(connection, world.principal(db, world.people.executive))

    assert [i.id for i in everything] == [incident_id]
    assert [i.id for i in critical_open] == [incident_id]
    assert [i.id for i in owned] == [incident_id]
    assert of_tickets == acknowledged == elsewhere == []


def test_notifications_are_read_by_their_user_only(
    world: World, db: Engine, settings: Settings
) -> None:
    open_incident(db, settings)
    with db.begin() as connection:
        (mine,) = notifications_for(connection, 1, unread_only=True)
        assert mine.kind == "incident.opened"
        assert mark_read(connection, 2, [mine.id], now=OPENED_AT) == 0  # someone else's
        assert mark_read(connection, 1, None, now=OPENED_AT) == 1
        assert notifications_for(connection, 1, unread_only=True) == []
        assert notifications_for(connection, 1)[0].read_at == OPENED_AT


def test_the_cron_jobs_run_a_cycle_and_the_escalation_on_the_wall_clock(
    world: World, services: Services, db: Engine
) -> None:
    report = jobs.run_checks()

    assert report["sources"] == 2
    assert len(report["opened"]) == 2  # neither source ever sent an event
    # Where the cycle's time went, step by step, for whoever reads the job's result.
    steps = report["timings_s"]
    assert list(steps) == [
        "setup", "gather", "freshness", "completeness", "validity", "volume_anomaly",
        "referential_integrity", "schema_drift", "reconciliation", "store", "incidents", "commit",
    ]  # fmt: skip
    assert all(seconds >= 0 for seconds in steps.values())
    assert sum(steps.values()) <= report["duration_s"] + 0.01  # rounding, one ms a step
    assert jobs.escalate_incidents() == []
    assert jobs.prune_results() == 0
