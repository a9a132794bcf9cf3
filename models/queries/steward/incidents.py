"""Incident reads for the steward console: the queue, one incident, its timeline and evidence.

Every read takes a principal: it needs ``incident:manage`` and sees the incidents of sources
whose owner unit lies in the principal's scope. An incident out of scope and one that does
not exist get the same answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from models.permissions import AccessDenied, Permission, Principal
from models.quality.tables import CheckKey, DqState, IncidentEventKind, IncidentStatus, Severity
from models.quality.windows import WINDOW
from models.queries.common import IN_SCOPE, scope_params

NOT_FOUND = "no such incident in your scope"


class IncidentNotFound(AccessDenied):
    """No incident with this id in the principal's scope (or none at all: indistinguishable)."""


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class IncidentView:
    """An incident as the console shows it."""

    id: int
    source_id: int
    source_key: str
    source_name: str
    check: CheckKey
    check_name: str
    severity: Severity
    status: IncidentStatus
    title: str
    summary: str
    opened_at: dt.datetime
    last_seen_at: dt.datetime
    occurrences: int
    affected_kpis: tuple[str, ...]
    owner: Person | None
    """The source's steward; None: the stewards of the owner unit."""
    owner_unit_id: int
    owner_unit_name: str
    assignee: Person | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: Person | None
    escalation_level: int
    escalated_at: dt.datetime | None
    next_escalation_at: dt.datetime | None
    recovered_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolved_by: Person | None
    resolution_note: str | None
    last_result_id: int | None

    @property
    def is_resolved(self) -> bool:
        return self.status is IncidentStatus.RESOLVED


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """What the queue shows; None (or empty) in a field: no restriction by it."""

    statuses: Collection[IncidentStatus] | None = None
    severities: Collection[Severity] | None = None
    source_ids: Collection[int] | None = None
    checks: Collection[CheckKey] | None = None
    owner_user_id: int | None = None
    assignee_id: int | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    id: int
    at: dt.datetime
    kind: IncidentEventKind
    actor: str
    actor_id: int | None
    note: str
    result_id: int | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResultView:
    """A stored check result (evidence of an incident, a row of the data-health page)."""

    id: int
    check: CheckKey
    source_id: int
    at: dt.datetime
    window_start: dt.datetime
    window_end: dt.datetime
    value: float | None
    threshold: float | None
    state: DqState
    summary: str
    context: dict[str, Any]


def _person(name: str) -> str:
    return (
        f"CASE WHEN {name}.id IS NULL THEN NULL ELSE "
        f"json_build_array({name}.id, coalesce(nullif({name}.display_name, ''), {name}.email)) END"
    )


_SELECT = f"""
SELECT i.id, i.source_id, s.key AS source_key, s.name AS source_name, c.key AS check_key,
       c.name AS check_name, CAST(i.severity AS text) AS severity,
       CAST(i.status AS text) AS status, i.title, i.summary, i.opened_at, i.last_seen_at,
       i.occurrences, i.affected_kpis, i.owner_unit_id, ou.name AS owner_unit_name,
       {_person("ow")} AS owner, {_person("asg")} AS assignee,
       i.acknowledged_at, {_person("ack")} AS acknowledged_by, i.escalation_level,
       i.escalated_at, i.next_escalation_at, i.recovered_at, i.resolved_at,
       {_person("res")} AS resolved_by, i.resolution_note, i.last_result_id
FROM incidents i
JOIN sources s ON s.id = i.source_id
JOIN dq_checks c ON c.id = i.check_id
JOIN org_units ou ON ou.id = i.owner_unit_id
LEFT JOIN users ow ON ow.id = i.owner_user_id
LEFT JOIN users asg ON asg.id = i.assignee_id
LEFT JOIN users ack ON ack.id = i.acknowledged_by
LEFT JOIN users res ON res.id = i.resolved_by
WHERE ou.path <@ ANY({IN_SCOPE})
"""


def _maybe_person(value: Any) -> Person | None:
    return None if value is None else Person(int(value[0]), str(value[1]))


def _view(row: RowMapping) -> IncidentView:
    return IncidentView(
        id=row["id"],
        source_id=row["source_id"],
        source_key=row["source_key"],
        source_name=row["source_name"],
        check=CheckKey(row["check_key"]),
        check_name=row["check_name"],
        severity=Severity(row["severity"]),
        status=IncidentStatus(row["status"]),
        title=row["title"],
        summary=row["summary"],
        opened_at=row["opened_at"],
        last_seen_at=row["last_seen_at"],
        occurrences=row["occurrences"],
        affected_kpis=tuple(row["affected_kpis"]),
        owner=_maybe_person(row["owner"]),
        owner_unit_id=row["owner_unit_id"],
        owner_unit_name=row["owner_unit_name"],
        assignee=_maybe_person(row["assignee"]),
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=_maybe_person(row["acknowledged_by"]),
        escalation_level=row["escalation_level"],
        escalated_at=row["escalated_at"],
        next_escalation_at=row["next_escalation_at"],
        recovered_at=row["recovered_at"],
        resolved_at=row["resolved_at"],
        resolved_by=_maybe_person(row["resolved_by"]),
        resolution_note=row["resolution_note"],
        last_result_id=row["last_result_id"],
    )


def get_incident(connection: Connection, principal: Principal, incident_id: int) -> IncidentView:
    """One incident.

    Raises:
        AccessDenied: missing ``incident:manage``.
        IncidentNotFound: no such incident in the principal's scope.
    """
    principal.require(Permission.INCIDENT_MANAGE)
    row = (
        connection.execute(
            text(_SELECT + " AND i.id = :id LIMIT 1"),
            {"id": incident_id, **scope_params(principal.scope_paths)},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise IncidentNotFound(NOT_FOUND)
    return _view(row)


_SEVERITY_ORDER = "CASE i.severity WHEN 'critical' THEN 0 ELSE 1 END"
_STATUS_ORDER = (
    "CASE i.status WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 WHEN 'recovered' THEN 2 ELSE 3 END"
)


def _values(items: Collection[Any] | None) -> list[str] | None:
    return None if not items else sorted(str(i) for i in items)


def _any(column: str, param: str, sql_type: str) -> str:
    """``column`` among (or equal to) the bound ``param``, unless it is NULL."""
    value = f"CAST(:{param} AS {sql_type})"
    test = f"= ANY({value})" if sql_type.endswith("[]") else f"= {value}"
    return f"({value} IS NULL OR {column} {test})"


def list_incidents(
    connection: Connection,
    principal: Principal,
    filters: IncidentFilter = IncidentFilter(),
    *,
    limit: int = 100,
    offset: int = 0,
) -> list[IncidentView]:
    """The incident queue: unresolved before resolved, critical first, newest first.

    Raises:
        AccessDenied: missing ``incident:manage``.
    """
    principal.require(Permission.INCIDENT_MANAGE)
    conditions = [
        _any("CAST(i.status AS text)", "statuses", "text[]"),
        _any("CAST(i.severity AS text)", "severities", "text[]"),
        _any("i.source_id", "source_ids", "integer[]"),
        _any("c.key", "checks", "text[]"),
        _any("i.owner_user_id", "owner", "integer"),
        _any("i.assignee_id", "assignee", "integer"),
    ]
    statement = (
        _SELECT
        + "".join(f" AND {c}" for c in conditions)
        + f" ORDER BY {_STATUS_ORDER}, {_SEVERITY_ORDER}, i.opened_at DESC, i.id DESC"
        + " LIMIT :limit OFFSET :offset"
    )
    rows = connection.execute(
        text(statement),
        {
            "statuses": _values(filters.statuses),
            "severities": _values(filters.severities),
            "source_ids": None if not filters.source_ids else sorted(filters.source_ids),
            "checks": _values(filters.checks),
            "owner": filters.owner_user_id,
            "assignee": filters.assignee_id,
            "limit": limit,
            "offset": offset,
            **scope_params(principal.scope_paths),
        },
    ).mappings()
    return [_view(row) for row in rows]


def incident_timeline(
    connection: Connection, principal: Principal, incident_id: int
) -> list[TimelineEntry]:
    """Every step of an incident, oldest first (see :func:`get_incident` for what it raises)."""
    get_incident(connection, principal, incident_id)
    rows = connection.execute(
        text(
            "SELECT id, at, CAST(kind AS text), actor, actor_id, note, result_id, detail "
            "FROM incident_events WHERE incident_id = :id ORDER BY at, id"
        ),
        {"id": incident_id},
    )
    return [
        TimelineEntry(id_, at, IncidentEventKind(kind), actor, actor_id, note, result_id, detail)
        for id_, at, kind, actor, actor_id, note, result_id, detail in rows
    ]


RESULT_COLUMNS = (
    "r.id, c.key, r.source_id, r.at, r.window_start, r.window_end, r.value, r.threshold, "
    "CAST(r.state AS text), r.summary, r.context"
)


def result_view(row: Any) -> ResultView:
    id_, key, source_id, at, start, end, value, threshold, state, summary, context = row
    return ResultView(
        id_,
        CheckKey(key),
        source_id,
        at,
        start,
        end,
        value,
        threshold,
        DqState(state),
        summary,
        context,
    )


def incident_evidence(
    connection: Connection, principal: Principal, incident_id: int, *, limit: int = 500
) -> list[ResultView]:
    """The results of the incident's check on its source evaluated from shortly before it
    opened until it was resolved (or now), by window: the evidence chart."""
    incident = get_incident(connection, principal, incident_id)
    rows = connection.execute(
        text(
            f"SELECT {RESULT_COLUMNS} FROM dq_results r JOIN dq_checks c ON c.id = r.check_id "
            "WHERE r.source_id = :source_id AND c.key = :check "
            "AND r.at >= :since AND (CAST(:until AS timestamptz) IS NULL "
            "  OR r.at <= CAST(:until AS timestamptz)) "
            "ORDER BY r.window_start, r.window_end, r.id LIMIT :limit"
        ),
        {
            "source_id": incident.source_id,
            "check": incident.check.value,
            "since": incident.opened_at - WINDOW,
            "until": incident.resolved_at,
            "limit": limit,
        },
    )
    return [result_view(row) for row in rows]
