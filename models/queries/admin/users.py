"""Reads of the admin console's users page: the users an admin may manage, one user's
details, and the roles and org units the admin may grant.

Every read requires ``user:manage``. An admin sees the users whose every scope lies inside
the admin's own (``models.admin.rules``): a regional admin neither sees nor changes a
company-wide account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, RowMapping, text

from models.admin.rules import NOT_MANAGEABLE
from models.enums import OrgLevel
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, scope_params

MAX_USERS = 500


class UserStatus(StrEnum):
    """The users list's status filter."""

    ACTIVE = "active"
    INVITED = "invited"
    """Active, but no password chosen yet."""
    DEACTIVATED = "deactivated"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    email: str
    name: str
    is_active: bool
    password_set: bool
    roles: tuple[str, ...]
    """Role names."""
    scopes: tuple[str, ...]
    """Names of the org units granted."""
    last_login_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class UserDetail:
    row: UserRow
    role_ids: tuple[int, ...]
    unit_ids: tuple[int, ...]
    open_link: str | None
    """The purpose (``invite``/``reset``) of the user's open one-time link, if any."""
    open_link_expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class RoleOption:
    id: int
    key: str
    name: str
    builtin: bool
    grantable: bool
    """Whether the admin holds every permission of the role (and so may grant it)."""


@dataclass(frozen=True, slots=True)
class UnitOption:
    id: int
    key: str
    name: str
    level: OrgLevel
    depth: int
    """Levels below the top of the admin's scope (for indenting)."""


MANAGEABLE = (
    "NOT EXISTS (SELECT 1 FROM user_scopes ms JOIN org_units mo ON mo.id = ms.org_unit_id "
    f"WHERE ms.user_id = u.id AND NOT (mo.path <@ ANY({IN_SCOPE})))"
)
"""SQL: user ``u`` may be managed by the principal whose scope is bound as ``scopes``."""

_USERS = f"""
SELECT u.id, u.email, coalesce(nullif(u.display_name, ''), u.email) AS name, u.is_active,
       u.password_hash IS NOT NULL AS password_set, u.last_login_at, u.created_at,
       ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
             WHERE ur.user_id = u.id ORDER BY r.name) AS roles,
       ARRAY(SELECT o.name FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id
             WHERE us.user_id = u.id ORDER BY o.path) AS scopes,
       ARRAY(SELECT ur.role_id FROM user_roles ur WHERE ur.user_id = u.id ORDER BY 1) AS role_ids,
       ARRAY(SELECT us.org_unit_id FROM user_scopes us WHERE us.user_id = u.id ORDER BY 1)
           AS unit_ids
FROM users u
WHERE {MANAGEABLE}
"""

_FILTERS = """
  AND (CAST(:search AS text) IS NULL OR strpos(lower(u.email), :search) > 0
       OR strpos(lower(u.display_name), :search) > 0)
  AND (CAST(:role_id AS integer) IS NULL
       OR EXISTS (SELECT 1 FROM user_roles fr WHERE fr.user_id = u.id AND fr.role_id = :role_id))
  AND (CAST(:status AS text) = 'all'
       OR (:status = 'active' AND u.is_active)
       OR (:status = 'invited' AND u.is_active AND u.password_hash IS NULL)
       OR (:status = 'deactivated' AND NOT u.is_active))
ORDER BY lower(u.email), u.id
LIMIT :limit
"""


def _row(row: RowMapping) -> UserRow:
    return UserRow(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        is_active=row["is_active"],
        password_set=row["password_set"],
        roles=tuple(row["roles"]),
        scopes=tuple(row["scopes"]),
        last_login_at=row["last_login_at"],
        created_at=row["created_at"],
    )


def list_users(
    connection: Connection,
    principal: Principal,
    *,
    search: str = "",
    role_id: int | None = None,
    status: UserStatus = UserStatus.ALL,
    limit: int = MAX_USERS,
) -> list[UserRow]:
    """The users the principal may manage, filtered: ``search`` in the e-mail or name
    (case-insensitive, literal), holding ``role_id``, in ``status``; by e-mail."""
    principal.require(Permission.USER_MANAGE)
    params = {
        "search": search.strip().lower() or None,
        "role_id": role_id,
        "status": status.value,
        "limit": min(limit, MAX_USERS),
        **scope_params(principal.scope_paths),
    }
    rows = connection.execute(text(_USERS + _FILTERS), params).mappings()
    return [_row(row) for row in rows]


_LINK = """
SELECT CAST(purpose AS text) AS purpose, expires_at FROM invitations
WHERE user_id = :user_id AND used_at IS NULL AND revoked_at IS NULL AND expires_at > :now
ORDER BY created_at DESC LIMIT 1
"""


def get_user(
    connection: Connection, principal: Principal, user_id: int, now: dt.datetime
) -> UserDetail:
    """One user the principal may manage, with the ids of their grants and open link.

    Raises:
        AccessDenied: missing ``user:manage``, or no such user among those it may manage.
    """
    principal.require(Permission.USER_MANAGE)
    params = {"user_id": user_id, **scope_params(principal.scope_paths)}
    row = connection.execute(text(_USERS + " AND u.id = :user_id"), params).mappings().first()
    if row is None:
        raise AccessDenied(NOT_MANAGEABLE)
    link = connection.execute(text(_LINK), {"user_id": user_id, "now": now}).first()
    return UserDetail(
        row=_row(row),
        role_ids=tuple(row["role_ids"]),
        unit_ids=tuple(row["unit_ids"]),
        open_link=link[0] if link else None,
        open_link_expires_at=link[1] if link else None,
    )


_ROLES = """
SELECT r.id, r.key, r.name, r.builtin,
       ARRAY(SELECT CAST(rp.permission AS text) FROM role_permissions rp
             WHERE rp.role_id = r.id) AS permissions
FROM roles r ORDER BY r.builtin DESC, r.name, r.id
"""


def role_options(connection: Connection, principal: Principal) -> list[RoleOption]:
    """Every role, marked grantable when the principal holds all its permissions."""
    principal.require(Permission.USER_MANAGE)
    held = {p.value for p in principal.permissions}
    return [
        RoleOption(
            id=row["id"],
            key=row["key"],
            name=row["name"],
            builtin=row["builtin"],
            grantable=set(row["permissions"]) <= held,
        )
        for row in connection.execute(text(_ROLES)).mappings()
    ]


_UNITS = f"""
SELECT u.id, u.key, u.name, u.level,
       nlevel(u.path) - (SELECT min(nlevel(s.p)) FROM unnest({IN_SCOPE}) AS s(p)
                         WHERE u.path <@ s.p) AS depth
FROM org_units u WHERE u.path <@ ANY({IN_SCOPE})
ORDER BY u.path LIMIT :limit
"""


def unit_options(
    connection: Connection, principal: Principal, *, limit: int = 2000
) -> list[UnitOption]:
    """The org units the principal may grant (its scope), in tree order."""
    principal.require(Permission.USER_MANAGE)
    rows = connection.execute(
        text(_UNITS), {"limit": limit, **scope_params(principal.scope_paths)}
    ).mappings()
    return [
        UnitOption(r["id"], r["key"], r["name"], OrgLevel(r["level"]), int(r["depth"]))
        for r in rows
    ]
