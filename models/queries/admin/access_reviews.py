"""Reads of the access review page: grants unused for a while, campaigns and their grants,
and who may review.

Every read requires ``user:manage`` and is scoped like the writes (``models.admin.rules``):
unused grants and reviewers are listed among the users the admin may manage; a campaign is
visible only when its reviewer is one of them (an unknown campaign and another one answer
alike), and of its grants only those of users the admin may manage now are listed (the
progress counts cover the whole campaign).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, text

from models.admin.reviews import NO_REVIEW
from models.admin.tables import Decision, GrantKind, ReviewState
from models.permissions import AccessDenied, Permission, Principal
from models.queries.admin.users import MANAGEABLE
from models.queries.common import scope_params

MAX_ROWS = 1000


@dataclass(frozen=True, slots=True)
class Grant:
    """A role or scope grant of a user, and when it was last used (None: never)."""

    user_id: int
    user_email: str
    user_name: str
    kind: GrantKind
    grant_name: str
    granted_at: dt.datetime
    last_used_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    id: int
    quarter: str
    reviewer_id: int
    reviewer: str
    due_on: dt.date
    state: ReviewState
    created_at: dt.datetime
    closed_at: dt.datetime | None
    items: int
    pending: int
    revoked: int
    flagged: int


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: int
    user_id: int
    user_email: str
    user_name: str
    kind: GrantKind
    grant_name: str
    granted_at: dt.datetime
    last_used_at: dt.datetime | None
    flagged: bool
    decision: Decision | None
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str
    reviewer_manages: bool = True
    """Whether the campaign's reviewer manages the user now (else another admin decides)."""


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    email: str


_UNUSED = f"""
SELECT g.* FROM (
  SELECT u.id AS user_id, u.email AS user_email,
         coalesce(nullif(u.display_name, ''), u.email) AS user_name, 'role' AS kind,
         r.name AS grant_name, ur.granted_at, ur.last_used_at
  FROM user_roles ur JOIN users u ON u.id = ur.user_id JOIN roles r ON r.id = ur.role_id
  WHERE u.is_active AND {MANAGEABLE}
  UNION ALL
  SELECT u.id, u.email, coalesce(nullif(u.display_name, ''), u.email), 'scope', o.name,
         us.granted_at, us.last_used_at
  FROM user_scopes us JOIN users u ON u.id = us.user_id JOIN org_units o ON o.id = us.org_unit_id
  WHERE u.is_active AND {MANAGEABLE}
) AS g
WHERE coalesce(g.last_used_at, g.granted_at) < :cutoff
ORDER BY g.last_used_at NULLS FIRST, g.granted_at, g.user_email, g.kind, g.grant_name
LIMIT :limit
"""


def unused_grants(
    connection: Connection, principal: Principal, now: dt.datetime, unused_days: int
) -> list[Grant]:
    """Grants of active users the principal may manage, not used for ``unused_days`` (a grant
    never used counts from when it was granted), least recently used first."""
    principal.require(Permission.USER_MANAGE)
    params = {
        "cutoff": now - dt.timedelta(days=unused_days),
        "limit": MAX_ROWS,
        **scope_params(principal.scope_paths),
    }
    rows = connection.execute(text(_UNUSED), params).mappings()
    return [
        Grant(
            user_id=r["user_id"],
            user_email=r["user_email"],
            user_name=r["user_name"],
            kind=GrantKind(r["kind"]),
            grant_name=r["grant_name"],
            granted_at=r["granted_at"],
            last_used_at=r["last_used_at"],
        )
        for r in rows
    ]


_REVIEWS = f"""
SELECT a.id, a.quarter, a.reviewer_id,
       coalesce(nullif(u.display_name, ''), u.email) AS reviewer, a.due_on,
       CAST(a.state AS text) AS state, a.created_at, a.closed_at,
       count(i.id) AS items, count(i.id) FILTER (WHERE i.decision IS NULL) AS pending,
       count(i.id) FILTER (WHERE i.decision = 'revoke') AS revoked,
       count(i.id) FILTER (WHERE i.flagged) AS flagged
FROM access_reviews a JOIN users u ON u.id = a.reviewer_id
LEFT JOIN access_review_items i ON i.review_id = a.id
WHERE (CAST(:review_id AS integer) IS NULL OR a.id = :review_id) AND {MANAGEABLE}
GROUP BY a.id, u.id
ORDER BY a.quarter DESC, a.id DESC
LIMIT :limit
"""


def _summary(r: RowMapping) -> ReviewSummary:
    return ReviewSummary(
        id=r["id"],
        quarter=r["quarter"],
        reviewer_id=r["reviewer_id"],
        reviewer=r["reviewer"],
        due_on=r["due_on"],
        state=ReviewState(r["state"]),
        created_at=r["created_at"],
        closed_at=r["closed_at"],
        items=int(r["items"]),
        pending=int(r["pending"]),
        revoked=int(r["revoked"]),
        flagged=int(r["flagged"]),
    )


def list_reviews(
    connection: Connection, principal: Principal, limit: int = 40
) -> list[ReviewSummary]:
    """The most recent campaigns, newest quarter first, with their progress."""
    principal.require(Permission.USER_MANAGE)
    params = {"review_id": None, "limit": limit, **scope_params(principal.scope_paths)}
    rows = connection.execute(text(_REVIEWS), params).mappings()
    return [_summary(r) for r in rows]


def get_review(connection: Connection, principal: Principal, review_id: int) -> ReviewSummary:
    """One campaign; AccessDenied when there is none whose reviewer the principal manages."""
    principal.require(Permission.USER_MANAGE)
    params = {"review_id": review_id, "limit": 1, **scope_params(principal.scope_paths)}
    row = connection.execute(text(_REVIEWS), params).mappings().first()
    if row is None:
        raise AccessDenied(NO_REVIEW)
    return _summary(row)


_ITEMS = f"""
SELECT i.id, i.user_id, u.email AS user_email,
       coalesce(nullif(u.display_name, ''), u.email) AS user_name,
       CAST(i.kind AS text) AS kind, i.grant_name, i.granted_at, i.last_used_at, i.flagged,
       CAST(i.decision AS text) AS decision,
       coalesce(nullif(d.display_name, ''), d.email) AS decided_by, i.decided_at, i.note,
       NOT EXISTS (
         SELECT 1 FROM user_scopes s JOIN org_units o ON o.id = s.org_unit_id
         WHERE s.user_id = i.user_id AND NOT EXISTS (
           SELECT 1 FROM user_scopes rs JOIN org_units ro ON ro.id = rs.org_unit_id
           WHERE rs.user_id = a.reviewer_id AND o.path <@ ro.path)) AS reviewer_manages
FROM access_review_items i JOIN access_reviews a ON a.id = i.review_id
JOIN users u ON u.id = i.user_id
LEFT JOIN users d ON d.id = i.decided_by
WHERE i.review_id = :review_id AND {MANAGEABLE}
ORDER BY i.decision NULLS FIRST, i.flagged DESC, lower(u.email), i.kind, i.grant_name, i.id
LIMIT :limit
"""


def review_items(connection: Connection, principal: Principal, review_id: int) -> list[ReviewItem]:
    """The grants of a campaign of users the principal may manage: undecided first (flagged
    ones on top), then decided. AccessDenied when the campaign is not visible (get_review)."""
    get_review(connection, principal, review_id)
    params = {"review_id": review_id, "limit": MAX_ROWS, **scope_params(principal.scope_paths)}
    rows = connection.execute(text(_ITEMS), params)
    return [
        ReviewItem(
            id=r["id"],
            user_id=r["user_id"],
            user_email=r["user_email"],
            user_name=r["user_name"],
            kind=GrantKind(r["kind"]),
            grant_name=r["grant_name"],
            granted_at=r["granted_at"],
            last_used_at=r["last_used_at"],
            flagged=r["flagged"],
            decision=Decision(r["decision"]) if r["decision"] else None,
            decided_by=r["decided_by"],
            decided_at=r["decided_at"],
            note=r["note"],
            reviewer_manages=r["reviewer_manages"],
        )
        for r in rows.mappings()
    ]


_REVIEWERS = f"""
SELECT u.id, coalesce(nullif(u.display_name, ''), u.email) AS name, u.email FROM users u
WHERE u.is_active AND {MANAGEABLE} AND EXISTS (
  SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id
  WHERE ur.user_id = u.id AND rp.permission = 'user:manage')
ORDER BY 2, u.id LIMIT :limit
"""


def reviewers(connection: Connection, principal: Principal, limit: int = 200) -> list[Person]:
    """Who may review: active users holding ``user:manage`` whom the principal may manage,
    by name."""
    principal.require(Permission.USER_MANAGE)
    params = {"limit": limit, **scope_params(principal.scope_paths)}
    rows = connection.execute(text(_REVIEWERS), params)
    return [Person(int(i), str(n), str(e)) for i, n, e in rows]
