"""What an admin does to accounts: create or invite, deactivate and reactivate, reset a
password, and set a user's roles and org-unit scopes. Every action obeys ``models.admin.rules``
and writes ``audit_log`` with the values before and after; committing is left to the caller,
who also ends the sessions of a deactivated user (``dashboard.auth.sessions``)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.accounts import UserSpec, create_user, find_user
from models.admin import rules
from models.admin.links import check_password, issue_link, revoke_links
from models.admin.rules import AdminError
from models.admin.tables import LinkPurpose
from models.audit import record_change
from models.org import OrgUnit
from models.permissions import Principal
from models.users import Role, User, UserRole, UserScope

MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class NewAccount:
    """The create form: with a ``password`` the account is ready; without, it gets an invite."""

    email: str
    display_name: str
    role_ids: tuple[int, ...]
    unit_ids: tuple[int, ...]
    password: str | None


@dataclass(frozen=True, slots=True)
class Created:
    user_id: int
    invite_token: str | None
    """The invitation's token when no password was set; shown once, never stored."""


def _keys(session: Session, model: type[Role] | type[OrgUnit], ids: Sequence[int]) -> list[str]:
    found = dict(session.execute(select(model.id, model.key).where(model.id.in_(list(ids)))).all())
    if len(found) != len(set(ids)):
        raise AdminError("an unknown role or org unit was chosen")
    return [found[i] for i in ids]


def _check_roles(session: Session, principal: Principal, role_ids: Sequence[int]) -> None:
    permissions = rules.role_permissions(session, role_ids)
    if len(permissions) != len(set(role_ids)):
        raise AdminError("an unknown role was chosen")
    for role_id in role_ids:
        rules.grantable(principal, permissions[role_id], "this role")


def create_account(
    session: Session,
    principal: Principal,
    new: NewAccount,
    now: dt.datetime,
    invite_ttl: dt.timedelta,
) -> Created:
    """Create a user with roles and scopes the admin may grant; with no password, an
    invitation link (valid ``invite_ttl``) is made instead and its token returned once."""
    actor = rules.require_admin(principal)
    email, name = new.email.strip(), new.display_name.strip()
    if not rules.EMAIL.fullmatch(email):
        raise AdminError("enter a valid e-mail address")
    if not name or len(name) > MAX_NAME:
        raise AdminError(f"enter a name of 1 to {MAX_NAME} characters")
    if find_user(session, email) is not None:
        raise AdminError("a user with this e-mail address already exists")
    if new.password is not None:
        check_password(new.password, email)
    _check_roles(session, principal, new.role_ids)
    rules.units_in_scope(session, principal, new.unit_ids)
    spec = UserSpec(
        email,
        name,
        tuple(_keys(session, Role, new.role_ids)),
        tuple(_keys(session, OrgUnit, new.unit_ids)),
    )
    # An invited user gets no usable password until they choose one through the link.
    password = new.password if new.password is not None else secrets.token_urlsafe(32)
    user = create_user(session, spec, password, actor)
    if new.password is not None:
        return Created(user.id, None)
    user.password_hash = None
    user.password_changed_at = None
    session.flush()
    token = issue_link(session, user.id, LinkPurpose.INVITE, actor, now, invite_ttl)
    return Created(user.id, token)


def reset_link(
    session: Session, principal: Principal, user_id: int, now: dt.datetime, ttl: dt.timedelta
) -> str:
    """A one-time link for the user to choose a new password; returns its token, once.

    The current password keeps working until the link is used (a mistaken reset locks
    nobody out); deactivate the user to shut them out at once.
    """
    actor = rules.require_admin(principal)
    rules.lock_manageable(session, principal, user_id)
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise AdminError("reactivate the user before resetting their password")
    return issue_link(session, user_id, LinkPurpose.RESET, actor, now, ttl)


def set_active(
    session: Session, principal: Principal, user_id: int, active: bool, now: dt.datetime
) -> None:
    """Deactivate (open links revoked too) or reactivate a user, audited."""
    actor = rules.require_admin(principal)
    rules.lock_manageable(session, principal, user_id)
    if not active and user_id == principal.user_id:
        raise AdminError("you cannot deactivate yourself; ask another admin")
    user = session.get(User, user_id)
    assert user is not None  # locked above
    if user.is_active == active:
        raise AdminError(f"the user is already {'active' if active else 'deactivated'}")
    user.is_active = active
    revoked = 0 if active else revoke_links(session, user_id, now)
    session.flush()
    verb = "reactivate" if active else "deactivate"
    detail = {"links_revoked": revoked} if revoked else None
    record_change(
        session,
        actor,
        f"user.{verb}",
        "user",
        user_id,
        before={"is_active": not active},
        after={"is_active": active},
        detail=detail,
    )


def access_of(session: Session, user_id: int) -> dict[str, list[str]]:
    """The user's role keys and scope unit keys, sorted: what access audits show."""
    roles = session.scalars(
        select(Role.key)
        .join(UserRole, UserRole.role_id == Role.id)
        .where(UserRole.user_id == user_id)
    )
    units = session.scalars(
        select(OrgUnit.key)
        .join(UserScope, UserScope.org_unit_id == OrgUnit.id)
        .where(UserScope.user_id == user_id)
    )
    return {"roles": sorted(roles), "scopes": sorted(units)}


def _current(session: Session, user_id: int) -> tuple[set[int], set[int]]:
    roles = set(session.scalars(select(UserRole.role_id).where(UserRole.user_id == user_id)))
    units = set(session.scalars(select(UserScope.org_unit_id).where(UserScope.user_id == user_id)))
    return roles, units


def set_access(
    session: Session,
    principal: Principal,
    user_id: int,
    role_ids: Sequence[int],
    unit_ids: Sequence[int],
) -> bool:
    """Make the user's roles and scopes exactly these; returns whether anything changed.

    Added roles and units must be grantable by the admin; removing needs only that the user
    is manageable. Audited as one ``user.access`` change (role and unit keys before/after).
    """
    actor = rules.require_admin(principal)
    rules.lock_manageable(session, principal, user_id)
    roles, units = _current(session, user_id)
    add_roles, drop_roles = set(role_ids) - roles, roles - set(role_ids)
    add_units, drop_units = set(unit_ids) - units, units - set(unit_ids)
    if not (add_roles or drop_roles or add_units or drop_units):
        return False
    _check_roles(session, principal, sorted(add_roles))
    rules.units_in_scope(session, principal, add_units)
    before = access_of(session, user_id)
    revoke_grants(session, user_id, drop_roles, drop_units)
    session.add_all(
        UserRole(user_id=user_id, role_id=r, granted_by=actor.user_id) for r in add_roles
    )
    session.add_all(
        UserScope(user_id=user_id, org_unit_id=u, granted_by=actor.user_id) for u in add_units
    )
    session.flush()
    if user_id == principal.user_id:
        rules.keeps_admin(session, principal)
    record_change(
        session,
        actor,
        "user.access",
        "user",
        user_id,
        before=before,
        after=access_of(session, user_id),
    )
    return True


def revoke_grants(session: Session, user_id: int, role_ids: set[int], unit_ids: set[int]) -> None:
    """Delete these role and scope grants of the user (the caller audits)."""
    if role_ids:
        session.execute(
            delete(UserRole).where(UserRole.user_id == user_id, UserRole.role_id.in_(role_ids))
        )
    if unit_ids:
        session.execute(
            delete(UserScope).where(
                UserScope.user_id == user_id, UserScope.org_unit_id.in_(unit_ids)
            )
        )
