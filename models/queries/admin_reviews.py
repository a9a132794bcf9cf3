"""Reads of the access review page: grants unused for a while, campaigns and their grants,
and who may review.

Every read requires ``user:manage``. Unused grants are listed for the users the admin may
manage; campaigns are visible to every admin (each names its reviewer and outcome).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, text

from models.admin.reviews import NO_REVIEW
from models.admin.tables import Decision, GrantKind, ReviewState
from models.permissions import AccessDenied, Permission, Principal
from models.queries.admin_users import MANAGEABLE
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


_REVIEWS = """
SELECT a.id, a.quarter, a.reviewer_id,
       coalesce(nullif(u.display_name, ''), u.email) AS reviewer, a.due_on,
       CAST(a.state AS text) AS state, a.created_at, a.closed_at,
       count(i.id) AS items, count(i.id) FILTER (WHERE i.decision IS NULL) AS pending,
       count(i.id) FILTER (WHERE i.decision = 'revoke') AS revoked,
       count(i.id) FILTER (WHERE i.flagged) AS flagged
FROM access_reviews a JOIN users u ON u.id = a.reviewer_id
LEFT JOIN access_review_items i ON i.review_id = a.id
WHERE (CAST(:review_id AS integer) IS NULL OR a.id = :review_id)
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
    rows = connection.execute(text(_REVIEWS), {"review_id": None, "limit": limit}).mappings()
    return [_summary(r) for r in rows]


def get_review(connection: Connection, principal: Principal, review_id: int) -> ReviewSummary:
    """One campaign; AccessDenied when there is none."""
    principal.require(Permission.USER_MANAGE)
    row = (
        connection.execute(text(_REVIEWS), {"review_id": review_id, "limit": 1}).mappings().first()
    )
    if row is None:
        raise AccessDenied(NO_REVIEW)
    return _summary(row)


_ITEMS = """
SELECT i.id, i.user_id, u.email AS user_email,
       coalesce(nullif(u.display_name, ''), u.email) AS user_name,
       CAST(i.kind AS text) AS kind, i.grant_name, i.granted_at, i.last_used_at, i.flagged,
       CAST(i.decision AS text) AS decision,
       coalesce(nullif(d.display_name, ''), d.email) AS decided_by, i.decided_at, i.note
FROM access_review_items i JOIN users u ON u.id = i.user_id
LEFT JOIN users d ON d.id = i.decided_by
WHERE i.review_id = :review_id
ORDER BY i.decision NULLS FIRST, i.flagged DESC, lower(u.email), i.kind, i.grant_name, i.id
LIMIT :limit
"""


def review_items(connection: Connection, principal: Principal, review_id: int) -> list[ReviewItem]:
    """The grants of a campaign: undecided first (flagged ones on top), then decided."""
    principal.require(Permission.USER_MANAGE)
    rows = connection.execute(text(_ITEMS), {"review_id": review_id, "limit": MAX_ROWS})
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
        )
        for r in rows.mappings()
    ]


_REVIEWERS = """
SELECT u.id, coalesce(nullif(u.display_name, ''), u.email) AS name, u.email FROM users u
WHERE u.is_active AND EXISTS (
  SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id
  WHERE ur.user_id = u.id AND rp.permission = 'user:manage')
ORDER BY 2, u.id LIMIT :limit
"""


def reviewers(connection: Connection, principal: Principal, limit: int = 200) -> list[Person]:
    """Who may review: active users holding ``user:manage``, by name."""
    principal.require(Permission.USER_MANAGE)
    rows = connection.execute(text(_REVIEWERS), {"limit": limit})
    return [Person(int(i), str(n), str(e)) for i, n, e in rows]
