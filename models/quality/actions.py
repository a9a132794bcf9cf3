"""What a steward does with an incident: acknowledge, assign, comment, resolve.

Each action checks ``incident:manage`` and the incident's scope before it changes anything,
locks the incident, adds a timeline row and an ``audit_log`` row, and returns the incident as
it now is. Committing is left to the caller (one transaction per action).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.audit import Actor, record_change
from models.notifications import notify
from models.permissions import Permission, Principal
from models.quality.escalation import Recipient, manager_of
from models.quality.incidents import add_event, link
from models.quality.tables import Incident, IncidentEventKind, IncidentStatus
from models.queries.common import IN_SCOPE, scope_params
from models.queries.steward.incidents import NOT_FOUND, IncidentNotFound, IncidentView, get_incident

MAX_NOTE = 4000


class IncidentStateError(ValueError):
    """The action does not fit the incident's state (e.g. resolving a resolved incident)."""


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def _note(note: str, *, required: bool) -> str:
    cleaned = note.strip()
    if required and not cleaned:
        raise ValueError("a note is required")
    if len(cleaned) > MAX_NOTE:
        raise ValueError(f"a note may have at most {MAX_NOTE} characters")
    return cleaned


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name or f"user {principal.user_id}", principal.user_id)


def _locked(session: Session, principal: Principal, incident_id: int) -> Incident:
    """The incident, locked for this transaction, if the principal may manage it."""
    principal.require(Permission.INCIDENT_MANAGE)
    found = session.execute(
        text(
            "SELECT i.id FROM incidents i JOIN org_units ou ON ou.id = i.owner_unit_id "
            f"WHERE i.id = :id AND ou.path <@ ANY({IN_SCOPE}) FOR UPDATE OF i"
        ),
        {"id": incident_id, **scope_params(principal.scope_paths)},
    ).first()
    incident = session.get(Incident, incident_id, populate_existing=True) if found else None
    if incident is None:
        raise IncidentNotFound(NOT_FOUND)
    return incident


def _unresolved(incident: Incident, action: str) -> None:
    if incident.status is IncidentStatus.RESOLVED:
        raise IncidentStateError(f"incident {incident.id} is resolved; it cannot be {action}")


def _record(
    session: Session,
    principal: Principal,
    incident: Incident,
    kind: IncidentEventKind,
    now: dt.datetime,
    *,
    note: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    detail: Mapping[str, Any] | None = None,
) -> IncidentView:
    actor = _actor(principal)
    add_event(
        session,
        incident,
        kind,
        now,
        actor=actor.name,
        actor_id=actor.user_id,
        note=note,
        detail=detail,
    )
    record_change(
        session,
        actor,
        f"incident.{_VERBS[kind]}",
        "incident",
        incident.id,
        before=before,
        after=after,
        detail={"note": note, **(detail or {})},
    )
    session.flush()
    return get_incident(session.connection(), principal, incident.id)


_VERBS = {
    IncidentEventKind.ACKNOWLEDGED: "acknowledge",
    IncidentEventKind.ASSIGNED: "assign",
    IncidentEventKind.COMMENTED: "comment",
    IncidentEventKind.RESOLVED: "resolve",
}


def acknowledge(
    session: Session,
    principal: Principal,
    incident_id: int,
    note: str = "",
    *,
    now: dt.datetime | None = None,
) -> IncidentView:
    """Take ownership of the problem: the incident stops escalating.

    Raises:
        AccessDenied: missing ``incident:manage``; IncidentNotFound: not in scope.
        IncidentStateError: already acknowledged, or resolved.
    """
    incident = _locked(session, principal, incident_id)
    cleaned = _note(note, required=False)
    _unresolved(incident, "acknowledged")
    if incident.acknowledged_at is not None:
        raise IncidentStateError(f"incident {incident.id} is already acknowledged")
    at = _now(now)
    before = {"status": incident.status, "acknowledged_by": None}
    incident.acknowledged_at = at
    incident.acknowledged_by = principal.user_id
    incident.next_escalation_at = None
    if incident.status is IncidentStatus.OPEN:
        incident.status = IncidentStatus.ACKNOWLEDGED
    after = {"status": incident.status, "acknowledged_by": principal.user_id}
    return _record(
        session,
        principal,
        incident,
        IncidentEventKind.ACKNOWLEDGED,
        at,
        note=cleaned,
        before=before,
        after=after,
    )


def assign(
    session: Session,
    principal: Principal,
    incident_id: int,
    assignee_id: int,
    note: str = "",
    *,
    now: dt.datetime | None = None,
) -> IncidentView:
    """Give the incident to a user who may manage it (they are notified).

    Raises:
        AccessDenied, IncidentNotFound: as :func:`acknowledge`.
        IncidentStateError: resolved, or the assignee may not manage this incident.
    """
    incident = _locked(session, principal, incident_id)
    cleaned = _note(note, required=False)
    _unresolved(incident, "assigned")
    assignee: Recipient | None = manager_of(
        session.connection(), assignee_id, incident.owner_unit_id
    )
    if assignee is None:
        raise IncidentStateError(
            "the assignee must be an active user who may manage incidents of this source"
        )
    at = _now(now)
    before = {"assignee_id": incident.assignee_id}
    incident.assignee_id = assignee.user_id
    if assignee.user_id != principal.user_id:
        notify(
            session.connection(),
            [assignee.user_id],
            kind="incident.assigned",
            title=f"Assigned to you: {incident.title}",
            body=cleaned or incident.summary,
            link=link(incident.id),
            now=at,
        )
    return _record(
        session,
        principal,
        incident,
        IncidentEventKind.ASSIGNED,
        at,
        note=cleaned,
        before=before,
        after={"assignee_id": assignee.user_id},
        detail={"assignee": {"id": assignee.user_id, "name": assignee.name}},
    )


def comment(
    session: Session,
    principal: Principal,
    incident_id: int,
    note: str,
    *,
    now: dt.datetime | None = None,
) -> IncidentView:
    """Add a note to the timeline (resolved incidents too: post-mortems).

    Raises:
        AccessDenied, IncidentNotFound: as :func:`acknowledge`; ValueError: an empty note.
    """
    incident = _locked(session, principal, incident_id)
    cleaned = _note(note, required=True)
    return _record(
        session,
        principal,
        incident,
        IncidentEventKind.COMMENTED,
        _now(now),
        note=cleaned,
        before={},
        after={},
    )


def resolve(
    session: Session,
    principal: Principal,
    incident_id: int,
    note: str,
    *,
    now: dt.datetime | None = None,
) -> IncidentView:
    """Close the incident with a note saying what was done; a new failure opens a new one.

    Raises:
        AccessDenied, IncidentNotFound: as :func:`acknowledge`; ValueError: an empty note.
        IncidentStateError: already resolved.
    """
    incident = _locked(session, principal, incident_id)
    cleaned = _note(note, required=True)
    _unresolved(incident, "resolved again")
    at = _now(now)
    before = {"status": incident.status}
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = at
    incident.resolved_by = principal.user_id
    incident.resolution_note = cleaned
    incident.next_escalation_at = None
    return _record(
        session,
        principal,
        incident,
        IncidentEventKind.RESOLVED,
        at,
        note=cleaned,
        before=before,
        after={"status": incident.status},
    )
