"""Every account with its roles and scopes, for ``northstar users list`` (no scope filter:
the command line is the operator's, not a signed-in user's)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

MAX_ACCOUNTS = 10_000

_ACCOUNTS = text(
    "SELECT u.email, u.display_name, u.is_active, "
    "ARRAY(SELECT r.key FROM user_roles ur JOIN roles r ON r.id = ur.role_id "
    "  WHERE ur.user_id = u.id ORDER BY r.key) AS roles, "
    "ARRAY(SELECT o.key FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id "
    "  WHERE us.user_id = u.id ORDER BY o.key) AS scopes "
    "FROM users u ORDER BY lower(u.email) LIMIT :limit"
)


@dataclass(frozen=True, slots=True)
class AccountLine:
    email: str
    name: str
    active: bool
    roles: tuple[str, ...]
    scopes: tuple[str, ...]


def list_accounts(connection: Connection, limit: int = MAX_ACCOUNTS) -> list[AccountLine]:
    """Every user by e-mail address (at most ``limit``), with role and unit keys."""
    rows = connection.execute(_ACCOUNTS, {"limit": limit}).mappings()
    return [
        AccountLine(
            r["email"], r["display_name"], r["is_active"], tuple(r["roles"]), tuple(r["scopes"])
        )
        for r in rows
    ]
