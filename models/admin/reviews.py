"""Access review campaigns: start one for a quarter, then certify or revoke each grant.

A campaign snapshots every grant (role or org-unit scope) of every active user its reviewer
may manage (``models.admin.rules``), flagging those unused for ``unused_days``. The reviewer
decides each one; a revocation deletes the grant in the same transaction, so it takes effect
at the user's next request (the session check re-reads permissions and scope every request).
The reviewer's own grants are decided by another admin: nobody certifies themselves. The
campaign closes when the last grant is decided.

Scope: an admin starts a campaign only for a reviewer they may manage (whose users are then
theirs too), sees and decides only campaigns whose reviewer they may manage, and decides a
grant only of a user they may manage now. A user moved out of the reviewer's scope since the
start is decided by another admin who manages them, like the reviewer's own grants.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from models.admin import rules
from models.admin.rules import AdminError
from models.admin.tables import AccessReview, AccessReviewItem, Decision, GrantKind, ReviewState
from models.admin.users import access_of, revoke_grants
from models.audit import Actor, record_change
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import scope_params
from models.queries.principals import load_principal
from models.users import UserRole, UserScope

QUARTER = re.compile(r"(\d{4})-Q([1-4])")
NO_REVIEW = "no such access review among those of the admins you may manage"
"""The same answer for an unknown campaign and one whose reviewer is outside the admin's
scope: no probing."""
REVIEWER_OUT_OF_SCOPE = (
    "the reviewer must be an admin you may manage (a campaign shows and decides the grants "
    "of its reviewer's users)"
)
MAX_ITEMS = 500
"""Grants decided in one action, at most."""

_SNAPSHOT = text(
    "WITH members AS (SELECT u.id FROM users u WHERE u.is_active AND NOT EXISTS ("
    "  SELECT 1 FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id "
    "  WHERE us.user_id = u.id AND NOT (o.path <@ ANY(CAST(:scopes AS ltree[]))))) "
    "INSERT INTO access_review_items (review_id, user_id, kind, role_id, org_unit_id, "
    "  grant_name, granted_at, last_used_at, flagged) "
    "SELECT :review, ur.user_id, CAST('role' AS grant_kind), ur.role_id, NULL, r.name, "
    "  ur.granted_at, ur.last_used_at, coalesce(ur.last_used_at, ur.granted_at) < :cutoff "
    "FROM user_roles ur JOIN roles r ON r.id = ur.role_id "
    "WHERE ur.user_id IN (SELECT id FROM members) "
    "UNION ALL "
    "SELECT :review, us.user_id, CAST('scope' AS grant_kind), NULL, us.org_unit_id, o.name, "
    "  us.granted_at, us.last_used_at, coalesce(us.last_used_at, us.granted_at) < :cutoff "
    "FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id "
    "WHERE us.user_id IN (SELECT id FROM members)"
)


def quarter_of(day: dt.date) -> str:
    """``2026-Q4`` for any day of October to December 2026."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_end(quarter: str) -> dt.date:
    """The last day of a quarter such as ``2026-Q4``."""
    found = QUARTER.fullmatch(quarter)
    if found is None:
        raise AdminError("a quarter is written like 2026-Q4")
    year, number = int(found[1]), int(found[2])
    if number == 4:
        return dt.date(year, 12, 31)
    return dt.date(year, 3 * number + 1, 1) - dt.timedelta(days=1)


def start_review(
    session: Session,
    principal: Principal,
    quarter: str,
    reviewer_id: int,
    due_on: dt.date,
    now: dt.datetime,
    unused_days: int,
) -> int:
    """Start the campaign of ``quarter`` for ``reviewer_id``; returns its id.

    Raises:
        AdminError: malformed quarter, a due date in the past, a reviewer who is not an
            active admin, or a campaign of this reviewer for this quarter already exists.
    """
    actor = rules.require_admin(principal)
    quarter_end(quarter)
    if due_on < now.date():
        raise AdminError("the due date is in the past")
    if not rules.may_manage(session, principal, reviewer_id):
        raise AccessDenied(REVIEWER_OUT_OF_SCOPE)
    reviewer = load_principal(session.connection(), reviewer_id)
    if not reviewer.has(Permission.USER_MANAGE):
        raise AdminError("the reviewer must be an active user with user:manage")
    exists = select(AccessReview.id).where(
        AccessReview.quarter == quarter, AccessReview.reviewer_id == reviewer_id
    )
    if session.scalar(exists) is not None:
        raise AdminError(f"{reviewer.name} already has a campaign for {quarter}")
    review = AccessReview(
        quarter=quarter,
        reviewer_id=reviewer_id,
        due_on=due_on,
        unused_days=unused_days,
        created_by=actor.user_id,
    )
    session.add(review)
    session.flush()
    cutoff = now - dt.timedelta(days=unused_days)
    params = {"review": review.id, "cutoff": cutoff, **scope_params(reviewer.scope_paths)}
    items = session.execute(_SNAPSHOT, params).rowcount  # type: ignore[attr-defined]
    after = {"quarter": quarter, "reviewer": reviewer.name, "due_on": due_on, "grants": items}
    record_change(session, actor, "access_review.start", "access_review", review.id, after=after)
    return review.id


def _grant_exists(session: Session, item: AccessReviewItem) -> bool:
    if item.kind is GrantKind.ROLE:
        query = select(func.count()).where(
            UserRole.user_id == item.user_id, UserRole.role_id == item.role_id
        )
    else:
        query = select(func.count()).where(
            UserScope.user_id == item.user_id, UserScope.org_unit_id == item.org_unit_id
        )
    return bool(session.scalar(query))


def _may_decide(
    session: Session, principal: Principal, review: AccessReview, item: AccessReviewItem
) -> None:
    """The reviewer decides the grants of the users they manage, except their own; another
    admin decides the reviewer's own and those of users moved out of the reviewer's scope.
    Either way the decider must manage the user now (the user's row is locked)."""
    if item.decision is not None:
        raise AdminError(f"{item.grant_name} of this user is already decided")
    if item.user_id == principal.user_id:
        raise AdminError("your own grants are decided by another admin")
    rules.lock_manageable(session, principal, item.user_id)
    if principal.user_id == review.reviewer_id or item.user_id == review.reviewer_id:
        return
    if rules.manages(session, review.reviewer_id, item.user_id):
        raise AdminError("only the campaign's reviewer decides these grants")


def _revoke(
    session: Session,
    principal: Principal,
    actor: Actor,
    review: AccessReview,
    item: AccessReviewItem,
) -> None:
    rules.lock_manageable(session, principal, item.user_id)
    before = access_of(session, item.user_id)
    roles = {item.role_id} if item.role_id is not None else set()
    units = {item.org_unit_id} if item.org_unit_id is not None else set()
    revoke_grants(session, item.user_id, roles, units)
    detail = {"access_review": review.id, "item": item.id}
    after = access_of(session, item.user_id)
    record_change(
        session,
        actor,
        "user.access",
        "user",
        item.user_id,
        before=before,
        after=after,
        detail=detail,
    )


def decide(
    session: Session,
    principal: Principal,
    review_id: int,
    item_ids: Sequence[int],
    decision: Decision,
    note: str,
    now: dt.datetime,
) -> int:
    """Certify or revoke these grants of an open campaign; returns how many were decided.

    A revoked grant is deleted now; a certified one must still exist. All or nothing: one
    grant that may not be decided refuses the whole action.
    """
    actor = rules.require_admin(principal)
    cleaned = rules.note(note)
    review = session.get(AccessReview, review_id, with_for_update=True)
    if review is None or not rules.may_manage(session, principal, review.reviewer_id):
        raise AccessDenied(NO_REVIEW)
    if review.state is ReviewState.CLOSED:
        raise AdminError("this campaign is closed")
    wanted = set(item_ids)
    if not wanted or len(wanted) > MAX_ITEMS:
        raise AdminError(f"choose 1 to {MAX_ITEMS} grants")
    items = session.scalars(
        select(AccessReviewItem)
        .where(AccessReviewItem.review_id == review_id, AccessReviewItem.id.in_(wanted))
        .order_by(AccessReviewItem.id)
        .with_for_update()
    ).all()
    if len(items) != len(wanted):
        raise AdminError("a chosen grant is not part of this campaign")
    for item in items:
        _may_decide(session, principal, review, item)
        exists = _grant_exists(session, item)
        if decision is Decision.CERTIFY and not exists:
            raise AdminError(f"{item.grant_name} was removed since the campaign started")
        if decision is Decision.REVOKE and exists:
            _revoke(session, principal, actor, review, item)
        item.decision, item.decided_by, item.decided_at, item.note = (
            decision,
            actor.user_id,
            now,
            cleaned,
        )
        record_change(
            session,
            actor,
            f"access_review.{decision.value}",
            "access_review_item",
            item.id,
            before={"decision": None},
            after={"decision": decision, "note": cleaned},
            detail={"access_review": review.id, "user": item.user_id, "grant": item.grant_name},
        )
    session.flush()
    _close_when_done(session, actor, review, now)
    return len(items)


def _close_when_done(
    session: Session, actor: Actor, review: AccessReview, now: dt.datetime
) -> None:
    pending = session.scalar(
        select(func.count()).where(
            AccessReviewItem.review_id == review.id, AccessReviewItem.decision.is_(None)
        )
    )
    if pending:
        return
    review.state, review.closed_at = ReviewState.CLOSED, now
    record_change(
        session,
        actor,
        "access_review.close",
        "access_review",
        review.id,
        before={"state": ReviewState.OPEN},
        after={"state": ReviewState.CLOSED},
    )
