"""Accounts through the ORM: idempotent role upserts, user creation and password hashing.

Like :mod:`models.catalog`, every change is audited and committing is left to the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.audit import Actor, record_change
from models.catalog import CatalogError, unit_by_key, upsert_by_key
from models.permissions import ROLE_PERMISSIONS, Permission
from models.users import Role, RolePermission, User, UserRole, UserScope


@dataclass(frozen=True, slots=True)
class RoleSpec:
    key: str
    name: str
    permissions: frozenset[Permission]
    description: str = ""
    builtin: bool = True


@dataclass(frozen=True, slots=True)
class UserSpec:
    email: str
    display_name: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    """Keys of the org units whose subtrees the user may see."""
    is_demo: bool = False


ROLE_TEXT = {
    "executive": ("Executive", "Sees the KPIs and events of their scope; no personal data."),
    "steward": ("Data steward", "Looks after data quality, incidents and quarantine."),
    "admin": ("Administrator", "Manages users, roles, sources and keys; reads the audit log."),
}
BUILTIN_ROLES = tuple(
    RoleSpec(key, ROLE_TEXT[key][0], permissions, ROLE_TEXT[key][1])
    for key, permissions in ROLE_PERMISSIONS.items()
)
"""The roles every installation has: created by migration ``0011``, re-asserted by the demo
seed (a test checks that the migration writes exactly these)."""


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` (werkzeug format, self-describing)."""
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a user without a hash never matches."""
    return password_hash is not None and check_password_hash(password_hash, password)


def upsert_role(session: Session, spec: RoleSpec, actor: Actor) -> Role:
    """Create or update a role and make its permissions exactly ``spec.permissions``."""
    values = {"name": spec.name, "description": spec.description, "builtin": spec.builtin}
    role = upsert_by_key(session, actor, Role, "role", spec.key, values)
    current = set(
        session.scalars(select(RolePermission.permission).where(RolePermission.role_id == role.id))
    )
    if current != spec.permissions:
        session.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
        session.add_all(
            RolePermission(role_id=role.id, permission=p) for p in sorted(spec.permissions)
        )
        session.flush()
        record_change(
            session,
            actor,
            "role.permissions",
            "role",
            spec.key,
            before={"permissions": current},
            after={"permissions": spec.permissions},
        )
    return role


def find_user(session: Session, email: str) -> User | None:
    """The user with this e-mail address, compared case-insensitively."""
    return session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def create_user(session: Session, spec: UserSpec, password: str, actor: Actor) -> User:
    """Create a user with a hashed password, roles and scopes; refuses an existing e-mail."""
    if find_user(session, spec.email) is not None:
        raise CatalogError(f"a user with e-mail {spec.email!r} already exists")
    roles = _by_key(session, Role, spec.roles, "role")
    units = [unit_by_key(session, key) for key in spec.scopes]
    user = User(
        email=spec.email,
        display_name=spec.display_name,
        password_hash=hash_password(password),
        is_demo=spec.is_demo,
        password_changed_at=dt.datetime.now(dt.UTC),
    )
    session.add(user)
    session.flush()
    granted_by = actor.user_id
    session.add_all(UserRole(user_id=user.id, role_id=r.id, granted_by=granted_by) for r in roles)
    session.add_all(
        UserScope(user_id=user.id, org_unit_id=u.id, granted_by=granted_by) for u in units
    )
    session.flush()
    after = {
        "email": spec.email,
        "roles": spec.roles,
        "scopes": spec.scopes,
        "is_demo": spec.is_demo,
    }
    record_change(session, actor, "user.create", "user", user.id, after=after)
    return user


def _by_key(session: Session, model: type[Role], keys: Sequence[str], what: str) -> list[Role]:
    found = {r.key: r for r in session.scalars(select(model).where(model.key.in_(list(keys))))}
    missing = [k for k in keys if k not in found]
    if missing:
        raise CatalogError(f"unknown {what} {', '.join(missing)}")
    return [found[k] for k in keys]
