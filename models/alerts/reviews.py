"""Reviews: opened and updated by firing alerts (the system), then scheduled, decided and
closed by people.

A person may act on a review on a unit in their scope when they hold ``alert:manage`` or own
it. Each action locks the review, checks that it fits the review's state, adds a history row
and an ``audit_log`` row (before and after), and leaves committing to the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models.alerts.rules import actor_of
from models.alerts.tables import (
    AlertSeverity,
    Review,
    ReviewEvent,
    ReviewEventKind,
    ReviewState,
)
from models.audit import record_change
from models.permissions import AccessDenied, Permission, Principal
from models.queries.alerts.reviews import (
    REVIEW_NOT_FOUND,
    UNFINISHED,
    ReviewNotFound,
    ReviewView,
    get_review,
)
from models.queries.common import scope_params

SYSTEM = "system"
MAX_NOTE = 4000
NOT_YOURS = "only the review's owner or someone with alert:manage may act on it"


class ReviewStateError(ValueError):
    """The action does not fit the review's state (e.g. deciding a closed review)."""


@dataclass(frozen=True, slots=True)
class Opening:
    """What a firing alert brings to its review."""

    rule_id: int
    kpi_id: int
    unit_id: int
    title: str
    severity: AlertSeverity
    evidence: Mapping[str, Any]
    owner_user_id: int | None
    due_at: dt.datetime


def _event(
    session: Session,
    review: Review,
    kind: ReviewEventKind,
    at: dt.datetime,
    *,
    actor: str = SYSTEM,
    actor_id: int | None = None,
    note: str = "",
    detail: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        ReviewEvent(
            review_id=review.id,
            at=at,
            kind=kind,
            actor_id=actor_id,
            actor=actor,
            note=note,
            detail=dict(detail or {}),
        )
    )


def open_or_update(session: Session, opening: Opening, now: dt.datetime) -> tuple[int, bool]:
    """The rule's unfinished review, updated with the new evidence, or a new one.

    Returns:
        the review's id and whether it was opened now.
    """
    found = session.scalars(
        select(Review)
        .where(Review.rule_id == opening.rule_id, Review.state.in_(UNFINISHED))
        .with_for_update()
    ).first()
    facts = {"value": opening.evidence.get("value"), "at": opening.evidence.get("at")}
    if found is not None:
        found.evidence = dict(opening.evidence)
        found.last_seen_at = now
        found.occurrences += 1
        _event(session, found, ReviewEventKind.UPDATED, now, detail=facts)
        session.flush()
        return found.id, False
    review = Review(
        rule_id=opening.rule_id,
        kpi_id=opening.kpi_id,
        org_unit_id=opening.unit_id,
        title=opening.title,
        severity=opening.severity,
        state=ReviewState.OPEN,
        evidence=dict(opening.evidence),
        owner_user_id=opening.owner_user_id,
        due_at=opening.due_at,
        opened_at=now,
        last_seen_at=now,
    )
    session.add(review)
    session.flush()
    _event(session, review, ReviewEventKind.OPENED, now, detail=facts)
    session.flush()
    return review.id, True


def _note(note: str, *, required: str | None) -> str:
    cleaned = note.strip()
    if required and not cleaned:
        raise ValueError(required)
    if len(cleaned) > MAX_NOTE:
        raise ValueError(f"a note may have at most {MAX_NOTE} characters")
    return cleaned


def _locked(session: Session, principal: Principal, review_id: int) -> Review:
    """The review, locked, if the principal may act on it (see the module)."""
    principal.require(Permission.KPI_VIEW)
    found = session.execute(
        text(
            "SELECT v.id FROM reviews v JOIN org_units ou ON ou.id = v.org_unit_id "
            "WHERE v.id = :id AND ou.path <@ ANY(CAST(:scopes AS ltree[])) FOR UPDATE OF v"
        ),
        {"id": review_id, **scope_params(principal.scope_paths)},
    ).first()
    review = session.get(Review, review_id, populate_existing=True) if found else None
    if review is None:
        raise ReviewNotFound(REVIEW_NOT_FOUND)
    if not may_act(principal, review.owner_user_id):
        raise AccessDenied(NOT_YOURS)
    return review


def may_act(principal: Principal, owner_user_id: int | None) -> bool:
    """Whether the principal may act on a review (in scope) owned by ``owner_user_id``."""
    owns = principal.user_id is not None and principal.user_id == owner_user_id
    return principal.has(Permission.ALERT_MANAGE) or owns


def _record(
    session: Session,
    principal: Principal,
    review: Review,
    kind: ReviewEventKind,
    at: dt.datetime,
    *,
    note: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> ReviewView:
    actor = actor_of(principal)
    _event(session, review, kind, at, actor=actor.name, actor_id=actor.user_id, note=note)
    record_change(
        session,
        actor,
        f"review.{_VERBS[kind]}",
        "review",
        review.id,
        before=before,
        after=after,
        detail={"note": note},
    )
    session.flush()
    return get_review(session.connection(), principal, review.id)


_VERBS = {
    ReviewEventKind.SCHEDULED: "schedule",
    ReviewEventKind.DECIDED: "decide",
    ReviewEventKind.CLOSED: "close",
}


def schedule(
    session: Session,
    principal: Principal,
    review_id: int,
    when: dt.datetime,
    note: str,
    now: dt.datetime,
) -> ReviewView:
    """Set (or move) the meeting at which the review will be decided.

    Raises:
        AccessDenied, ReviewNotFound: see the module; ReviewStateError: decided or closed.
        ValueError: a time without a time zone, or a note too long.
    """
    review = _locked(session, principal, review_id)
    cleaned = _note(note, required=None)
    if when.tzinfo is None:
        raise ValueError("the meeting time needs a time zone")
    if review.state not in UNFINISHED:
        raise ReviewStateError(
            f"review {review.id} is {review.state.value}: it cannot be scheduled"
        )
    before = {"state": review.state, "scheduled_for": review.scheduled_for}
    review.state, review.scheduled_for = ReviewState.SCHEDULED, when
    after = {"state": review.state, "scheduled_for": when}
    return _record(
        session,
        principal,
        review,
        ReviewEventKind.SCHEDULED,
        now,
        note=cleaned,
        before=before,
        after=after,
    )


def decide(
    session: Session, principal: Principal, review_id: int, note: str, now: dt.datetime
) -> ReviewView:
    """Record the decision (the note is required); the KPI page shows it on the trend.

    Raises:
        AccessDenied, ReviewNotFound: see the module; ReviewStateError: decided or closed.
        ValueError: no note, or one too long.
    """
    review = _locked(session, principal, review_id)
    cleaned = _note(note, required="a decision needs a note saying what was decided")
    if review.state not in UNFINISHED:
        raise ReviewStateError(f"review {review.id} is {review.state.value}: it cannot be decided")
    before = {"state": review.state, "decision_note": review.decision_note}
    review.state, review.decision_note = ReviewState.DECIDED, cleaned
    review.decided_at, review.decided_by = now, principal.user_id
    after = {"state": review.state, "decision_note": cleaned}
    return _record(
        session,
        principal,
        review,
        ReviewEventKind.DECIDED,
        now,
        note=cleaned,
        before=before,
        after=after,
    )


def close(
    session: Session, principal: Principal, review_id: int, note: str, now: dt.datetime
) -> ReviewView:
    """Close the review: after its decision, or without one (then the note says why).

    Raises:
        AccessDenied, ReviewNotFound: see the module; ReviewStateError: already closed.
        ValueError: closing an undecided review without a note, or a note too long.
    """
    review = _locked(session, principal, review_id)
    if review.state is ReviewState.CLOSED:
        raise ReviewStateError(f"review {review.id} is already closed")
    undecided = review.state is not ReviewState.DECIDED
    why = "closing a review without a decision needs a note saying why" if undecided else None
    cleaned = _note(note, required=why)
    before = {"state": review.state}
    review.state, review.closed_at, review.closed_by = ReviewState.CLOSED, now, principal.user_id
    return _record(
        session,
        principal,
        review,
        ReviewEventKind.CLOSED,
        now,
        note=cleaned,
        before=before,
        after={"state": review.state},
    )
