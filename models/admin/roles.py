"""Custom roles: created and edited by admins, audited. Built-in roles are read-only here.

**Decision: built-in roles (``executive``, ``steward``, ``admin``) cannot be edited in the
console.** Their permission sets are defined in code (``models.permissions.ROLE_PERMISSIONS``)
and written again by the seed and demo commands, which would silently undo an edit; an admin
who needs a different set creates a custom role (Grafana's fixed basic roles work the same).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.accounts import RoleSpec, upsert_role
from models.admin import rules
from models.admin.rules import AdminError
from models.permissions import AccessDenied, Permission, Principal
from models.users import Role

ROLE_KEY = re.compile(r"[a-z][a-z0-9_-]{1,63}")
MAX_NAME = 100
MAX_DESCRIPTION = 500


def outside_message(count: int) -> str:
    """Why a role held by users outside the admin's scope cannot be edited by them."""
    return (
        f"this role is held by {count} user(s) outside your scope, whose rights an edit would "
        "change; an admin who may manage every holder edits it (or create a new role)"
    )


def _checked(name: str, description: str, permissions: Collection[Permission]) -> tuple[str, str]:
    name, description = name.strip(), description.strip()
    if not name or len(name) > MAX_NAME:
        raise AdminError(f"a role needs a name of 1 to {MAX_NAME} characters")
    if len(description) > MAX_DESCRIPTION:
        raise AdminError(f"a description may have at most {MAX_DESCRIPTION} characters")
    if not permissions:
        raise AdminError("a role needs at least one permission")
    return name, description


def create_role(
    session: Session,
    principal: Principal,
    key: str,
    name: str,
    description: str,
    permissions: Collection[Permission],
) -> int:
    """A new custom role with permissions the admin holds; returns its id."""
    actor = rules.require_admin(principal)
    key = key.strip()
    if not ROLE_KEY.fullmatch(key):
        raise AdminError(
            "a role key is 2 to 64 lower-case letters, digits, '-' or '_', starting with a letter"
        )
    if session.scalar(select(Role.id).where(Role.key == key)) is not None:
        raise AdminError("a role with this key already exists")
    name, description = _checked(name, description, permissions)
    rules.grantable(principal, permissions, "this role")
    spec = RoleSpec(key, name, frozenset(permissions), description, builtin=False)
    return upsert_role(session, spec, actor).id


def update_role(
    session: Session,
    principal: Principal,
    role_id: int,
    name: str,
    description: str,
    permissions: Collection[Permission],
) -> bool:
    """Edit a custom role's name, description and permissions; returns whether it changed.

    The permissions added or removed must be ones the admin holds, every holder of the role
    (active or deactivated) must be a user the admin may manage (an edit changes the rights of
    all of them), and the admin must keep ``user:manage`` afterwards. Holders get the new set
    at their next request.
    """
    actor = rules.require_admin(principal)
    role = session.get(Role, role_id, with_for_update=True)
    if role is None:
        raise AdminError("no such role")
    if role.builtin:
        raise AdminError("built-in roles cannot be edited; create a custom role instead")
    name, description = _checked(name, description, permissions)
    outside = rules.outside_holders(session, principal, role_id)
    if outside:
        raise AccessDenied(outside_message(outside))
    current = rules.role_permissions(session, [role_id]).get(role_id, set())
    rules.grantable(principal, set(permissions) ^ current, "this change")
    unchanged = (role.name, role.description) == (name, description)
    if unchanged and current == set(permissions):
        return False
    spec = RoleSpec(role.key, name, frozenset(permissions), description, builtin=False)
    upsert_role(session, spec, actor)
    session.flush()
    rules.keeps_admin(session, principal)
    return True
