"""Incidents from check results (open, repeat, recover, relapse) and their escalation.

These are the system's steps (actor ``system``); a person's steps are ``models.quality.actions``.
Every step adds a timeline row in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from models.notifications import notify
from models.quality.escalation import (
    EscalationPolicy,
    Level,
    Ownership,
    Recipient,
    recipients,
)
from models.quality.results import CheckDefinition, StoredResult
from models.quality.tables import (
    CheckKey,
    DqState,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentStatus,
)
from models.queries.steward.lineage import kpis_by_source

SYSTEM = "system"
INCIDENT_LINK = "/steward/incidents/{id}"
"""Where the steward console shows an incident (the link notifications carry)."""
AUTO_RESOLVED_NOTE = "Resolved automatically: the check passes again."


@dataclass
class IncidentChanges:
    """What applying a cycle's results did, by incident id."""

    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    relapsed: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    incident_id: int
    level: Level
    recipients: tuple[Recipient, ...]


@dataclass(frozen=True, slots=True)
class _SourceInfo:
    name: str
    owner_unit_id: int
    steward_id: int | None
    kpis: tuple[str, ...]


def link(incident_id: int) -> str:
    return INCIDENT_LINK.format(id=incident_id)


def ownership(incident: Incident) -> Ownership:
    return Ownership(incident.owner_unit_id, incident.owner_user_id, incident.assignee_id)


def add_event(
    session: Session,
    incident: Incident,
    kind: IncidentEventKind,
    now: dt.datetime,
    *,
    actor: str = SYSTEM,
    actor_id: int | None = None,
    note: str = "",
    result_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> IncidentEvent:
    """Add a timeline row for ``incident`` (flushed with the session)."""
    event = IncidentEvent(
        incident_id=incident.id,
        at=now,
        kind=kind,
        actor_id=actor_id,
        actor=actor,
        note=note,
        result_id=result_id,
        detail=dict(detail or {}),
    )
    session.add(event)
    return event


def _people(found: Sequence[Recipient]) -> list[dict[str, Any]]:
    return [{"id": r.user_id, "name": r.name} for r in found]


def _sources(session: Session, source_ids: Collection[int]) -> dict[int, _SourceInfo]:
    if not source_ids:
        return {}
    connection = session.connection()
    rows = connection.execute(
        text("SELECT id, name, owner_unit_id, steward_id FROM sources WHERE id = ANY(:ids)"),
        {"ids": sorted(source_ids)},
    )
    kpis = kpis_by_source(connection, source_ids)
    return {
        id_: _SourceInfo(name, unit, steward, tuple(k.key for k in kpis.get(id_, ())))
        for id_, name, unit, steward in rows
    }


def _unresolved(
    session: Session, pairs: Collection[tuple[int, int]]
) -> dict[tuple[int, int], Incident]:
    found = session.scalars(
        select(Incident)
        .where(
            Incident.status != IncidentStatus.RESOLVED,
            tuple_(Incident.source_id, Incident.check_id).in_(sorted(pairs)),
        )
        .order_by(Incident.id)
        .with_for_update()
    )
    return {(i.source_id, i.check_id): i for i in found}


def apply_results(
    session: Session,
    stored: Sequence[StoredResult],
    checks: Mapping[CheckKey, CheckDefinition],
    policy: EscalationPolicy,
    now: dt.datetime,
) -> IncidentChanges:
    """Open, update or recover the incident of each result's source and check.

    A failing result opens an incident (or updates the unresolved one: last seen, count,
    latest evidence; a recovered one relapses); any other result marks an open or
    acknowledged incident recovered (resolved too, when the policy says so).
    """
    changes = IncidentChanges()
    by_pair = {(r.row.source_id, checks[r.row.check].id): r for r in stored}
    if not by_pair:
        return changes
    incidents = _unresolved(session, by_pair.keys())
    failing = {pair for pair, r in by_pair.items() if r.row.state is DqState.FAILING}
    sources = _sources(session, {source_id for source_id, _ in failing})
    for pair, result in sorted(by_pair.items()):
        incident = incidents.get(pair)
        check = checks[result.row.check]
        if pair in failing:
            info = sources[pair[0]]
            if incident is None:
                changes.opened.append(_open(session, check, info, result, policy, now).id)
            else:
                if _repeat(session, incident, info, result, policy, now):
                    changes.relapsed.append(incident.id)
                changes.updated.append(incident.id)
        elif incident is not None and incident.status in (
            IncidentStatus.OPEN,
            IncidentStatus.ACKNOWLEDGED,
        ):
            _recover(session, incident, result, now)
            changes.recovered.append(incident.id)
            if policy.auto_resolve:
                _auto_resolve(session, incident, now)
                changes.resolved.append(incident.id)
    session.flush()
    return changes


def _open(
    session: Session,
    check: CheckDefinition,
    source: _SourceInfo,
    result: StoredResult,
    policy: EscalationPolicy,
    now: dt.datetime,
) -> Incident:
    incident = Incident(
        source_id=result.row.source_id,
        check_id=check.id,
        severity=check.severity,
        status=IncidentStatus.OPEN,
        title=f"{check.name} failing on {source.name}",
        summary=result.row.summary,
        opened_at=now,
        last_seen_at=now,
        occurrences=1,
        first_result_id=result.id,
        last_result_id=result.id,
        affected_kpis=list(source.kpis),
        owner_user_id=source.steward_id,
        owner_unit_id=source.owner_unit_id,
        escalation_level=Level.OWNER,
        next_escalation_at=policy.next_step(check.severity, Level.OWNER, now),
    )
    session.add(incident)
    session.flush()
    told = recipients(session.connection(), ownership(incident), Level.OWNER)
    add_event(
        session,
        incident,
        IncidentEventKind.OPENED,
        now,
        note=result.row.summary,
        result_id=result.id,
        detail={"evidence": result.evidence(), "notified": _people(told)},
    )
    notify(
        session.connection(),
        [r.user_id for r in told],
        kind="incident.opened",
        title=f"{check.severity.value.title()} incident: {incident.title}",
        body=result.row.summary,
        link=link(incident.id),
        now=now,
    )
    return incident


def _repeat(
    session: Session,
    incident: Incident,
    source: _SourceInfo,
    result: StoredResult,
    policy: EscalationPolicy,
    now: dt.datetime,
) -> bool:
    """Update the incident with a new failing result; True when it relapsed."""
    incident.last_seen_at = now
    incident.summary = result.row.summary
    incident.last_result_id = result.id
    incident.affected_kpis = list(source.kpis)
    if result.new:
        incident.occurrences += 1
    if incident.status is not IncidentStatus.RECOVERED:
        return False
    acknowledged = incident.acknowledged_at is not None
    incident.status = IncidentStatus.ACKNOWLEDGED if acknowledged else IncidentStatus.OPEN
    incident.recovered_at = None
    if not acknowledged:
        incident.next_escalation_at = policy.next_step(
            incident.severity, incident.escalation_level, now
        )
    add_event(
        session,
        incident,
        IncidentEventKind.RELAPSED,
        now,
        note=result.row.summary,
        result_id=result.id,
        detail={"evidence": result.evidence()},
    )
    return True


def _recover(session: Session, incident: Incident, result: StoredResult, now: dt.datetime) -> None:
    incident.status = IncidentStatus.RECOVERED
    incident.recovered_at = now
    incident.next_escalation_at = None
    add_event(
        session,
        incident,
        IncidentEventKind.RECOVERED,
        now,
        note=result.row.summary,
        result_id=result.id,
        detail={"evidence": result.evidence()},
    )
    told = recipients(session.connection(), ownership(incident), Level.OWNER)
    notify(
        session.connection(),
        [r.user_id for r in told],
        kind="incident.recovered",
        title=f"Recovered: {incident.title}",
        body="The check passes again; confirm to resolve the incident.",
        link=link(incident.id),
        now=now,
    )


def _auto_resolve(session: Session, incident: Incident, now: dt.datetime) -> None:
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = now
    incident.resolution_note = AUTO_RESOLVED_NOTE
    add_event(session, incident, IncidentEventKind.RESOLVED, now, note=AUTO_RESOLVED_NOTE)


def escalate_due(
    session: Session, policy: EscalationPolicy, now: dt.datetime
) -> list[EscalationStep]:
    """Climb one level for every open (unacknowledged) incident whose delay has passed.

    Each step is a timeline row and a notification to every recipient of the new level.
    Incidents another transaction holds are left for the next run.
    """
    due = session.scalars(
        select(Incident)
        .where(
            Incident.status == IncidentStatus.OPEN,
            Incident.next_escalation_at <= now,
            Incident.escalation_level < int(max(Level)),
        )
        .order_by(Incident.next_escalation_at, Incident.id)
        .with_for_update(skip_locked=True)
    ).all()
    steps = []
    for incident in due:
        level = Level(incident.escalation_level + 1)
        waited = policy.delays[incident.severity]
        incident.escalation_level = level
        incident.escalated_at = now
        incident.next_escalation_at = policy.next_step(incident.severity, level, now)
        told = recipients(session.connection(), ownership(incident), level)
        minutes = int(waited.total_seconds() // 60)
        add_event(
            session,
            incident,
            IncidentEventKind.ESCALATED,
            now,
            note=f"Not acknowledged within {minutes} min: escalated to {level.label}.",
            detail={"level": int(level), "to": level.label, "notified": _people(told)},
        )
        notify(
            session.connection(),
            [r.user_id for r in told],
            kind="incident.escalated",
            title=f"Escalated ({incident.severity.value}): {incident.title}",
            body=f"Not acknowledged within {minutes} min. {incident.summary}",
            link=link(incident.id),
            now=now,
        )
        steps.append(EscalationStep(incident.id, level, tuple(told)))
    session.flush()
    return steps
