"""Reads of the admin console's roles page: every role with its permissions and holders."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, scope_params


@dataclass(frozen=True, slots=True)
class RoleView:
    id: int
    key: str
    name: str
    description: str
    builtin: bool
    permissions: frozenset[Permission]
    holders: int
    """Active users holding the role."""
    outside: int
    """Holders (active or not) the reader may not manage: the role is read-only for them."""


_ROLES = f"""
SELECT r.id, r.key, r.name, r.description, r.builtin,
       ARRAY(SELECT CAST(rp.permission AS text) FROM role_permissions rp
             WHERE rp.role_id = r.id) AS permissions,
       (SELECT count(*) FROM user_roles ur JOIN users u ON u.id = ur.user_id
        WHERE ur.role_id = r.id AND u.is_active) AS holders,
       (SELECT count(*) FROM user_roles ur WHERE ur.role_id = r.id AND EXISTS (
          SELECT 1 FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id
          WHERE us.user_id = ur.user_id AND NOT (o.path <@ ANY({IN_SCOPE})))) AS outside
FROM roles r
"""


def _views(
    connection: Connection, principal: Principal, where: str, params: dict[str, int]
) -> list[RoleView]:
    known = {p.value for p in Permission}
    rows = connection.execute(
        text(_ROLES + where + " ORDER BY r.builtin DESC, r.name, r.id"),
        {**params, **scope_params(principal.scope_paths)},
    )
    return [
        RoleView(
            id=row["id"],
            key=row["key"],
            name=row["name"],
            description=row["description"],
            builtin=row["builtin"],
            permissions=frozenset(Permission(p) for p in row["permissions"] if p in known),
            holders=int(row["holders"]),
            outside=int(row["outside"]),
        )
        for row in rows.mappings()
    ]


def list_roles(connection: Connection, principal: Principal) -> list[RoleView]:
    """Every role, built-in first, then by name."""
    principal.require(Permission.USER_MANAGE)
    return _views(connection, principal, "", {})


def get_role(connection: Connection, principal: Principal, role_id: int) -> RoleView:
    """One role; AccessDenied when there is none."""
    principal.require(Permission.USER_MANAGE)
    found = _views(connection, principal, " WHERE r.id = :role_id", {"role_id": role_id})
    if not found:
        raise AccessDenied("no such role")
    return found[0]
