"""Who a signed-in user is, read in one round trip: their account state and their Principal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.permissions import Permission, Principal

_ACCOUNT = text(
    "SELECT u.id, u.email, u.display_name, u.is_active, u.session_epoch, "
    "u.password_changed_at, "
    "ARRAY(SELECT DISTINCT CAST(rp.permission AS text) FROM user_roles ur "
    "  JOIN role_permissions rp ON rp.role_id = ur.role_id "
    "  WHERE ur.user_id = u.id ORDER BY 1) AS permissions, "
    "ARRAY(SELECT CAST(o.path AS text) FROM user_scopes us "
    "  JOIN org_units o ON o.id = us.org_unit_id "
    "  WHERE us.user_id = u.id ORDER BY 1) AS scopes, "
    # The oldest use of any grant (never used: the epoch); None without grants.
    "(SELECT min(coalesce(g.last_used_at, timestamptz 'epoch')) FROM ("
    "  SELECT last_used_at FROM user_roles WHERE user_id = u.id UNION ALL "
    "  SELECT last_used_at FROM user_scopes WHERE user_id = u.id) AS g) AS grants_used_at "
    "FROM users u WHERE u.id = :user_id"
)

_MAX_USER_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Account:
    """A user's sign-in state and the principal their requests run as."""

    user_id: int
    email: str
    display_name: str
    is_active: bool
    session_epoch: int
    password_changed_at: dt.datetime | None
    principal: Principal
    grants_used_at: dt.datetime | None = None
    """When the least recently used of the user's grants was last used (the epoch for one
    never used; None without grants): the session check marks today's use from it."""


def no_access(user_id: int | None, name: str = "") -> Principal:
    """A principal that may see nothing: no permissions, an empty scope."""
    return Principal(user_id=user_id, permissions=frozenset(), scope_paths=(), name=name)


def load_account(connection: Connection, user_id: int) -> Account | None:
    """The account with this id, or None when there is none.

    A deactivated user's principal has no permissions and no scope, whatever their grants:
    callers may still use ``is_active`` to refuse them outright. Stored permission strings that
    the code no longer knows are ignored (a role edited by a newer release must not lock
    everyone out of an older one).
    """
    if not 0 < user_id <= _MAX_USER_ID:
        return None
    row = connection.execute(_ACCOUNT, {"user_id": user_id}).mappings().first()
    if row is None:
        return None
    name = row["display_name"] or row["email"]
    if row["is_active"]:
        known = {p.value for p in Permission}
        principal = Principal(
            user_id=row["id"],
            permissions=frozenset(Permission(p) for p in row["permissions"] if p in known),
            scope_paths=tuple(row["scopes"]),
            name=name,
        )
    else:
        principal = no_access(row["id"], name)
    return Account(
        user_id=row["id"],
        email=row["email"],
        display_name=name,
        is_active=row["is_active"],
        session_epoch=row["session_epoch"],
        password_changed_at=row["password_changed_at"],
        principal=principal,
        grants_used_at=row["grants_used_at"],
    )


def load_principal(connection: Connection, user_id: int) -> Principal:
    """The principal of this user; one without access when unknown or deactivated."""
    account = load_account(connection, user_id)
    return account.principal if account is not None else no_access(None)
