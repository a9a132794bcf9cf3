"""Account changes made by the operator from the command line (``northstar users``).

The same checks and audit rows as the admin console (``models.admin.users``), with one
difference: there is no signed-in admin, so nothing is limited by an admin's own scope or
permissions. The command line is what makes the first admin of an empty installation. The
actor is a named system process (``system:cli``); committing is left to the caller.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.accounts import UserSpec, create_user, find_user
from models.admin.links import check_password, issue_link, revoke_links
from models.admin.rules import EMAIL, AdminError
from models.admin.tables import LinkPurpose
from models.admin.users import MAX_NAME
from models.audit import Actor, record_change
from models.org import OrgUnit
from models.users import Role, User


@dataclass(frozen=True, slots=True)
class OperatorAccount:
    """``northstar users create``: with a ``password`` the account is ready; without, it gets
    an invitation link."""

    email: str
    display_name: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    password: str | None


def _known(session: Session, model: type[Role] | type[OrgUnit], keys: Sequence[str]) -> None:
    found = set(session.scalars(select(model.key).where(model.key.in_(list(keys)))))
    missing = [key for key in keys if key not in found]
    if not missing:
        return
    if model is Role:
        known = ", ".join(session.scalars(select(Role.key).order_by(Role.key))) or "none"
        raise AdminError(f"unknown role {missing[0]!r} (roles: {known})")
    raise AdminError(f"unknown org unit {missing[0]!r}")


def create_account(
    session: Session, new: OperatorAccount, actor: Actor, now: dt.datetime, ttl: dt.timedelta
) -> tuple[int, str | None]:
    """Create the user; returns their id and, without a password, the invitation's token
    (valid ``ttl``, shown once). Refusals are AdminError with a message for the operator."""
    email, name = new.email.strip(), new.display_name.strip()
    if not EMAIL.fullmatch(email):
        raise AdminError(f"{email!r} is not a valid e-mail address")
    if not name or len(name) > MAX_NAME:
        raise AdminError(f"a name needs 1 to {MAX_NAME} characters")
    if not new.roles:
        raise AdminError("give at least one role")
    if find_user(session, email) is not None:
        raise AdminError(f"a user with e-mail address {email} already exists")
    _known(session, Role, new.roles)
    _known(session, OrgUnit, new.scopes)
    if new.password is not None:
        check_password(new.password, email)
    spec = UserSpec(email, name, tuple(dict.fromkeys(new.roles)), tuple(dict.fromkeys(new.scopes)))
    # An invited user has no usable password until they choose one through the link.
    password = new.password if new.password is not None else secrets.token_urlsafe(32)
    user = create_user(session, spec, password, actor)
    if new.password is not None:
        return user.id, None
    user.password_hash = None
    user.password_changed_at = None
    session.flush()
    return user.id, issue_link(session, user.id, LinkPurpose.INVITE, actor, now, ttl)


def deactivate(session: Session, email: str, actor: Actor, now: dt.datetime) -> int:
    """Deactivate the user (open links revoked, every session ended), audited as the console
    does; returns their id. AdminError for an unknown or already deactivated user."""
    user = find_user(session, email.strip())
    if user is None:
        raise AdminError(f"no user with e-mail address {email.strip()}")
    session.refresh(user, with_for_update=True)
    if not user.is_active:
        raise AdminError(f"{user.email} is already deactivated")
    user.is_active = False
    revoked = revoke_links(session, user.id, now)
    session.execute(
        update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1)
    )
    session.flush()
    record_change(
        session,
        actor,
        "user.deactivate",
        "user",
        user.id,
        before={"is_active": True},
        after={"is_active": False},
        detail={"links_revoked": revoked} if revoked else None,
    )
    record_change(
        session, actor, "user.sessions_ended", "user", user.id, detail={"reason": "deactivated"}
    )
    return user.id
