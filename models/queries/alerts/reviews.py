"""Review reads: the reviews list, one review and its history, a KPI's reviews at a unit.

A principal with ``kpi:view`` sees the reviews whose unit lies in their scope; a review out
of scope and one that does not exist get the same answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from models.alerts.tables import AlertSeverity, ReviewEventKind, ReviewState
from models.permissions import AccessDenied, Permission, Principal
from models.queries.alerts.rules import IN_UNIT_SCOPE, maybe_person, person_json
from models.queries.common import scope_params
from models.queries.steward.incidents import Person

REVIEW_NOT_FOUND = "no such review in your scope"
UNFINISHED = (ReviewState.OPEN, ReviewState.SCHEDULED)


class ReviewNotFound(AccessDenied):
    """No review with this id in the principal's scope (or none at all)."""


@dataclass(frozen=True, slots=True)
class ReviewView:
    """A review as the pages show it."""

    id: int
    rule_id: int | None
    kpi_key: str
    kpi_name: str
    unit_id: int
    unit_key: str
    unit_name: str
    title: str
    severity: AlertSeverity
    state: ReviewState
    evidence: dict[str, Any]
    owner: Person | None
    due_at: dt.datetime
    opened_at: dt.datetime
    last_seen_at: dt.datetime
    occurrences: int
    scheduled_for: dt.datetime | None
    decision_note: str | None
    decided_at: dt.datetime | None
    decided_by: Person | None
    closed_at: dt.datetime | None

    @property
    def unfinished(self) -> bool:
        return self.state in UNFINISHED


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    """What the reviews list shows; None or empty in a field: no restriction by it."""

    states: Collection[ReviewState] | None = None
    severities: Collection[AlertSeverity] | None = None
    kpi_key: str | None = None
    owner_user_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReviewStep:
    id: int
    at: dt.datetime
    kind: ReviewEventKind
    actor: str
    note: str
    detail: dict[str, Any]


_REVIEWS = f"""
SELECT v.id, v.rule_id, k.key AS kpi_key, k.name AS kpi_name, v.org_unit_id AS unit_id,
       ou.key AS unit_key, ou.name AS unit_name, v.title, CAST(v.severity AS text) AS severity,
       CAST(v.state AS text) AS state, v.evidence, {person_json("ow")} AS owner, v.due_at,
       v.opened_at, v.last_seen_at, v.occurrences, v.scheduled_for, v.decision_note,
       v.decided_at, {person_json("dec")} AS decided_by, v.closed_at
FROM reviews v
JOIN kpis k ON k.id = v.kpi_id
JOIN org_units ou ON ou.id = v.org_unit_id
LEFT JOIN users ow ON ow.id = v.owner_user_id
LEFT JOIN users dec ON dec.id = v.decided_by
WHERE {IN_UNIT_SCOPE}
"""


def _review(row: RowMapping) -> ReviewView:
    values = dict(row)
    values.update(
        severity=AlertSeverity(row["severity"]),
        state=ReviewState(row["state"]),
        owner=maybe_person(row["owner"]),
        decided_by=maybe_person(row["decided_by"]),
    )
    return ReviewView(**values)


def list_reviews(
    connection: Connection,
    principal: Principal,
    filters: ReviewFilter = ReviewFilter(),
    *,
    limit: int = 200,
) -> list[ReviewView]:
    """Reviews on units in scope: unfinished first, soonest due first, then newest.

    Raises:
        AccessDenied: missing ``kpi:view``.
    """
    principal.require(Permission.KPI_VIEW)
    order = "CASE WHEN v.state IN ('open', 'scheduled') THEN 0 ELSE 1 END"
    rows = connection.execute(
        text(
            f"{_REVIEWS} "
            "AND (CAST(:states AS text[]) IS NULL OR CAST(v.state AS text) = ANY(:states)) "
            "AND (CAST(:sev AS text[]) IS NULL OR CAST(v.severity AS text) = ANY(:sev)) "
            "AND (CAST(:kpi AS text) IS NULL OR k.key = CAST(:kpi AS text)) "
            "AND (CAST(:owner AS integer) IS NULL OR v.owner_user_id = CAST(:owner AS integer)) "
            f"ORDER BY {order}, v.due_at, v.opened_at DESC, v.id DESC LIMIT :limit"
        ),
        {
            "states": sorted(s.value for s in filters.states) if filters.states else None,
            "sev": sorted(s.value for s in filters.severities) if filters.severities else None,
            "kpi": filters.kpi_key,
            "owner": filters.owner_user_id,
            "limit": limit,
            **scope_params(principal.scope_paths),
        },
    ).mappings()
    return [_review(row) for row in rows]


def get_review(connection: Connection, principal: Principal, review_id: int) -> ReviewView:
    """One review on a unit in scope.

    Raises:
        AccessDenied: missing ``kpi:view``; ReviewNotFound: not in scope.
    """
    principal.require(Permission.KPI_VIEW)
    row = (
        connection.execute(
            text(f"{_REVIEWS} AND v.id = :id LIMIT 1"),
            {"id": review_id, **scope_params(principal.scope_paths)},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise ReviewNotFound(REVIEW_NOT_FOUND)
    return _review(row)


def review_steps(
    connection: Connection, principal: Principal, review_id: int, *, limit: int = 200
) -> list[ReviewStep]:
    """The review's history, oldest first (see :func:`get_review` for what it raises)."""
    get_review(connection, principal, review_id)
    rows = connection.execute(
        text(
            "SELECT id, at, CAST(kind AS text), actor, note, detail FROM review_events "
            "WHERE review_id = :id ORDER BY at, id LIMIT :limit"
        ),
        {"id": review_id, "limit": limit},
    )
    return [
        ReviewStep(id_, at, ReviewEventKind(kind), actor, note, detail)
        for id_, at, kind, actor, note, detail in rows
    ]


def kpi_reviews(
    connection: Connection,
    principal: Principal,
    kpi_id: int,
    unit_path: str,
    *,
    since: dt.datetime,
    limit: int = 50,
) -> list[ReviewView]:
    """The KPI's reviews on the unit or below it (within the scope) that are unfinished, or
    were decided since ``since``: the KPI page's annotations, newest first.

    Raises:
        AccessDenied: missing ``kpi:view``.
    """
    principal.require(Permission.KPI_VIEW)
    rows = connection.execute(
        text(
            f"{_REVIEWS} AND v.kpi_id = :kpi AND ou.path <@ CAST(:unit AS ltree) "
            "AND (v.state IN ('open', 'scheduled') "
            "     OR (v.decided_at IS NOT NULL AND v.decided_at >= :since)) "
            "ORDER BY v.opened_at DESC, v.id DESC LIMIT :limit"
        ),
        {
            "kpi": kpi_id,
            "unit": unit_path,
            "since": since,
            "limit": limit,
            **scope_params(principal.scope_paths),
        },
    ).mappings()
    return [_review(row) for row in rows]
