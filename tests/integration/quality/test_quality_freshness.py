"""Freshness: a source silent past its SLA opens an incident and turns its KPIs' badges failing;
repeats update the incident; recovery marks it recovered, a steward (or the setting) resolves it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from integration.quality_support import (
    ORDERS,
    TICKETS,
    World,
    count,
    latest,
    rows,
    run,
    window_starting,
    world,
    write_window,
)
from models.quality.actions import resolve
from models.quality.tables import CheckKey, DqState, IncidentEventKind, IncidentStatus, Severity
from models.quality.windows import Window, window_at
from models.queries.steward.incidents import get_incident, incident_evidence, incident_timeline
from models.queries.steward.lineage import sources_by_kpi
from models.queries.steward.quality import QualityLevel, kpi_badges
from models.settings import Settings

__all__ = ["world"]  # fixture

LAST_EVENT_WINDOW = window_starting(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC))
MIN = dt.timedelta(minutes=1)


def badges(db: Engine, now: dt.datetime) -> dict[str, tuple[QualityLevel, tuple[str, ...]]]:
    with db.connect() as connection:
        found = kpi_badges(connection, sources_by_kpi(connection), now)
    return {key: (badge.level, badge.reasons) for key, badge in found.items()}


def both(db: Engine, window: Window, tag: str = "") -> None:
    """30 orders and 30 tickets in ``window`` (the tickets stay fresh: their SLA is 1 h)."""
    write_window(db, ORDERS, window, 30, tag=tag)
    write_window(db, TICKETS, window, 30, tag=tag)


def last_event(db: Engine) -> dt.datetime:
    (row,) = rows(db, "SELECT max(ts) AS ts FROM events WHERE source_id = 1")
    ts: dt.datetime = row["ts"]
    return ts


def test_a_source_silent_past_its_sla_opens_a_freshness_incident_and_fails_its_kpis(
    world: World, db: Engine, settings: Settings
) -> None:
    both(db, LAST_EVENT_WINDOW)
    silent_since = last_event(db)  # 10:14:30; the orders' SLA is 5 minutes

    run(db, settings, silent_since + 4 * MIN)
    assert latest(db, ORDERS, CheckKey.FRESHNESS).state is DqState.OK
    assert count(db, "incidents") == 0
    assert badges(db, silent_since + 4 * MIN)["revenue"][0] is QualityLevel.OK

    late = silent_since + 5 * MIN + dt.timedelta(seconds=30)
    report = run(db, settings, late)

    result = latest(db, ORDERS, CheckKey.FRESHNESS)
    assert result.state is DqState.FAILING
    assert (result.value, result.threshold) == (330.0, 300.0)
    assert result.summary == "newest event is 6 min old (SLA 5 min)"
    assert latest(db, TICKETS, CheckKey.FRESHNESS).state is DqState.OK  # SLA 1 h
    (incident_id,) = report.incidents.opened
    steward = world.principal(db, world.people.steward)
    with db.connect() as connection:
        incident = get_incident(connection, steward, incident_id)
        timeline = incident_timeline(connection, steward, incident_id)
    assert (incident.check, incident.severity, incident.status) == (
        CheckKey.FRESHNESS,
        Severity.CRITICAL,
        IncidentStatus.OPEN,
    )
    assert incident.title == "Freshness failing on Orders"
    assert incident.owner is not None
    assert incident.owner.name == "Sam Steward"
    assert incident.affected_kpis == ("minutes_per_item", "revenue")  # through lineage
    assert incident.opened_at == late
    assert incident.next_escalation_at == late + 15 * MIN
    (opened,) = timeline
    assert (opened.kind, opened.actor, opened.at) == (IncidentEventKind.OPENED, "system", late)
    assert opened.detail["evidence"]["summary"] == result.summary
    assert opened.result_id == result.id
    # The owner is told in the app.
    (note,) = rows(db, "SELECT user_id, kind, link FROM notifications")
    assert note == {
        "user_id": 1,
        "kind": "incident.opened",
        "link": f"/steward/incidents/{incident_id}",
    }

    # Every KPI reading the orders fails, with the reason; the tickets-only KPI does not.
    now_badges = badges(db, late)
    for key in ("revenue", "minutes_per_item"):
        level, reasons = now_badges[key]
        assert level is QualityLevel.FAILING
        assert "Orders: newest event is 6 min old (freshness SLA 5 min)" in reasons
    assert now_badges["ticket_minutes"][0] is QualityLevel.OK


def test_repeats_update_the_open_incident_instead_of_opening_another(
    world: World, db: Engine, settings: Settings
) -> None:
    both(db, LAST_EVENT_WINDOW)
    first = last_event(db) + 6 * MIN
    (incident_id,) = run(db, settings, first).incidents.opened

    same_window = run(db, settings, first + MIN)
    next_window = window_at(first).end + MIN
    later = run(db, settings, next_window)

    assert same_window.incidents.opened == later.incidents.opened == []
    assert same_window.incidents.updated == later.incidents.updated == [incident_id]
    (row,) = rows(db, "SELECT occurrences, last_seen_at, summary FROM incidents")
    assert row["occurrences"] == 2  # two windows failed; re-evaluating one counts once
    assert row["last_seen_at"] == next_window
    assert row["summary"] == latest(db, ORDERS, CheckKey.FRESHNESS).summary
    assert count(db, "incident_events") == 1  # repeats are evidence, not timeline steps


def test_recovery_marks_the_incident_recovered_and_a_steward_resolves_it(
    world: World, db: Engine, settings: Settings
) -> None:
    both(db, LAST_EVENT_WINDOW)
    failing_at = last_event(db) + 6 * MIN
    (incident_id,) = run(db, settings, failing_at).incidents.opened

    back = window_starting(dt.datetime(2026, 3, 2, 10, 15, tzinfo=dt.UTC))
    write_window(db, ORDERS, back, 30, tag="back")
    recovered_at = last_event(db) + MIN
    report = run(db, settings, recovered_at)

    assert report.incidents.recovered == [incident_id]
    steward = world.principal(db, world.people.steward)
    with db.connect() as connection:
        incident = get_incident(connection, steward, incident_id)
        evidence = incident_evidence(connection, steward, incident_id)
    assert incident.status is IncidentStatus.RECOVERED
    assert incident.recovered_at == recovered_at
    assert incident.next_escalation_at is None
    assert [r.state for r in evidence] == [DqState.FAILING, DqState.OK]
    assert badges(db, recovered_at)["revenue"][0] is QualityLevel.OK

    with Session(db) as session, session.begin():
        resolved = resolve(session, steward, incident_id, "Producer restarted after a deploy.")
    assert resolved.status is IncidentStatus.RESOLVED
    assert resolved.resolved_by is not None
    assert resolved.resolved_by.name == "Sam Steward"
    assert resolved.resolution_note == "Producer restarted after a deploy."
    with db.connect() as connection:
        kinds = [(e.kind, e.actor) for e in incident_timeline(connection, steward, incident_id)]
    assert kinds == [
        (IncidentEventKind.OPENED, "system"),
        (IncidentEventKind.RECOVERED, "system"),
        (IncidentEventKind.RESOLVED, "Sam Steward"),
    ]

    # Silent again: a new incident, the resolved one stays resolved.
    again = run(db, settings, last_event(db) + 10 * MIN)
    assert again.incidents.opened == [incident_id + 1]


def test_a_recovered_incident_that_fails_again_relapses(
    world: World, db: Engine, settings: Settings
) -> None:
    both(db, LAST_EVENT_WINDOW)
    (incident_id,) = run(db, settings, last_event(db) + 6 * MIN).incidents.opened
    write_window(db, ORDERS, window_starting(LAST_EVENT_WINDOW.end), 30, tag="back")
    run(db, settings, last_event(db) + MIN)

    relapse = run(db, settings, last_event(db) + 7 * MIN)

    assert relapse.incidents.relapsed == [incident_id]
    (row,) = rows(db, "SELECT CAST(status AS text) AS status, next_escalation_at FROM incidents")
    assert row["status"] == "open"
    assert row["next_escalation_at"] == last_event(db) + 7 * MIN + 15 * MIN


def test_with_auto_resolve_a_recovered_incident_resolves_itself(
    world: World, db: Engine, settings: Settings
) -> None:
    both(db, LAST_EVENT_WINDOW)
    (incident_id,) = run(db, settings, last_event(db) + 6 * MIN).incidents.opened
    write_window(db, ORDERS, window_starting(LAST_EVENT_WINDOW.end), 30, tag="back")

    report = run(db, settings, last_event(db) + MIN, auto_resolve=True)

    assert report.incidents.resolved == [incident_id]
    (row,) = rows(db, "SELECT CAST(status AS text) AS status, resolution_note FROM incidents")
    assert row == {
        "status": "resolved",
        "resolution_note": "Resolved automatically: the check passes again.",
    }
    kinds = [
        r["kind"]
        for r in rows(db, "SELECT CAST(kind AS text) AS kind FROM incident_events ORDER BY id")
    ]
    assert kinds == ["opened", "recovered", "resolved"]
