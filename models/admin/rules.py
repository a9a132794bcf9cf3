"""The rules every admin write obeys: who may be managed, what may be granted, no lock-out.

- A user may be managed by an admin (``user:manage``) when each of the user's org-unit scopes
  lies inside the admin's scope: a regional admin cannot act on a company-wide account.
- An admin grants only org units inside their own scope and roles whose permissions they hold
  themselves, and puts only such permissions in a custom role: nobody hands out more than
  they have.
- An admin changes nobody's rights indirectly either: a custom role held by anyone the admin
  may not manage is edited only by an admin who may manage every holder, and an access review
  campaign is started, read and decided only by an admin who may manage the users it covers.
- No change may leave the acting admin without ``user:manage`` (deactivating themselves,
  removing their own admin role, editing it away from a role they hold): the console must
  never lock out the person using it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.audit import Actor
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import scope_params

NOT_MANAGEABLE = "no such user among those you may manage"
"""The same answer for an unknown user and one outside the admin's scope: no probing."""
MAX_NOTE = 1000
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")


class AdminError(ValueError):
    """An admin action that cannot be done as asked; the message says why, fit for users."""


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.name or f"user {principal.user_id}", principal.user_id)


def require_admin(principal: Principal) -> Actor:
    """The audit actor of ``principal``, if it holds ``user:manage``; AccessDenied otherwise."""
    principal.require(Permission.USER_MANAGE)
    if principal.user_id is None:
        raise AccessDenied("admin actions need a signed-in user")
    return actor_of(principal)


_MANAGEABLE_USER = text(
    "SELECT id FROM users WHERE id = :user_id AND NOT EXISTS ("
    "  SELECT 1 FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id "
    "  WHERE us.user_id = :user_id AND NOT (o.path <@ ANY(CAST(:scopes AS ltree[])))) "
    "FOR UPDATE"
)
_MANAGEABLE_CHECK = text(
    "SELECT NOT EXISTS (SELECT 1 FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id "
    "  WHERE us.user_id = :user_id AND NOT (o.path <@ ANY(CAST(:scopes AS ltree[]))))"
)
_OUTSIDE_HOLDERS = text(
    "SELECT count(*) FROM user_roles ur WHERE ur.role_id = :role_id AND EXISTS ("
    "  SELECT 1 FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id "
    "  WHERE us.user_id = ur.user_id AND NOT (o.path <@ ANY(CAST(:scopes AS ltree[]))))"
)
_USER_MANAGES = text(
    "SELECT NOT EXISTS (SELECT 1 FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id "
    "  WHERE us.user_id = :user_id AND NOT EXISTS ("
    "    SELECT 1 FROM user_scopes ms JOIN org_units mo ON mo.id = ms.org_unit_id "
    "    WHERE ms.user_id = :manager_id AND o.path <@ mo.path))"
)
_UNITS_IN_SCOPE = text(
    "SELECT count(*) FROM org_units WHERE id = ANY(:ids) AND path <@ ANY(CAST(:scopes AS ltree[]))"
)


def lock_manageable(session: Session, principal: Principal, user_id: int) -> None:
    """Lock the user's row for this transaction, if ``principal`` may manage the user.

    Raises:
        AccessDenied: no such user, or one with a scope outside the admin's (alike).
    """
    found = session.execute(
        _MANAGEABLE_USER,
        {"user_id": user_id, **scope_params(principal.scope_paths)},
    ).first()
    if found is None:
        raise AccessDenied(NOT_MANAGEABLE)


def may_manage(session: Session, principal: Principal, user_id: int) -> bool:
    """Whether ``principal`` may manage the user (an unknown user counts as manageable: callers
    look the user up themselves); nothing is locked."""
    found = session.execute(
        _MANAGEABLE_CHECK,
        {"user_id": user_id, **scope_params(principal.scope_paths)},
    ).scalar_one()
    return bool(found)


def manages(session: Session, manager_id: int, user_id: int) -> bool:
    """Whether the user ``manager_id``'s scopes (as stored now) cover every scope of
    ``user_id``: the rule of :func:`lock_manageable`, for someone other than the caller."""
    return bool(
        session.execute(_USER_MANAGES, {"user_id": user_id, "manager_id": manager_id}).scalar_one()
    )


def outside_holders(session: Session, principal: Principal, role_id: int) -> int:
    """How many users hold the role (active or not) whom ``principal`` may not manage."""
    found = session.execute(
        _OUTSIDE_HOLDERS, {"role_id": role_id, **scope_params(principal.scope_paths)}
    ).scalar_one()
    return int(found)


def units_in_scope(session: Session, principal: Principal, unit_ids: Collection[int]) -> None:
    """Refuse unless every unit exists and lies in the principal's scope."""
    if not unit_ids:
        return
    found = session.execute(
        _UNITS_IN_SCOPE,
        {"ids": list(unit_ids), **scope_params(principal.scope_paths)},
    ).scalar_one()
    if found != len(set(unit_ids)):
        raise AccessDenied("no such org unit in your scope")


def role_permissions(session: Session, role_ids: Collection[int]) -> dict[int, set[Permission]]:
    """The permissions of each existing role among ``role_ids`` (unknown ones are missing);
    the roles' rows stay share-locked until the transaction ends."""
    rows = session.execute(
        text(
            "SELECT r.id, CAST(rp.permission AS text) FROM roles r "
            "LEFT JOIN role_permissions rp ON rp.role_id = r.id WHERE r.id = ANY(:ids) "
            # Shared lock: a role being granted is not edited under the grant's feet (the
            # edit checks who holds it, models.admin.roles), and the other way round.
            "FOR SHARE OF r"
        ),
        {"ids": list(role_ids)},
    )
    found: dict[int, set[Permission]] = {}
    known = {p.value for p in Permission}
    for role_id, permission in rows:
        perms = found.setdefault(int(role_id), set())
        if permission in known:
            perms.add(Permission(permission))
    return found


def grantable(principal: Principal, permissions: Iterable[Permission], what: str) -> None:
    """Refuse permissions the principal does not hold itself."""
    missing = sorted(p.value for p in permissions if not principal.has(p))
    if missing:
        raise AdminError(f"{what} would give {', '.join(missing)}, which you do not hold")


def holds_user_manage(session: Session, user_id: int | None) -> bool:
    """Whether the user is active and one of their roles gives ``user:manage``."""
    return bool(
        session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM users u JOIN user_roles ur ON ur.user_id = u.id "
                "JOIN role_permissions rp ON rp.role_id = ur.role_id "
                "WHERE u.id = :user_id AND u.is_active AND rp.permission = 'user:manage')"
            ),
            {"user_id": user_id},
        ).scalar_one()
    )


def keeps_admin(session: Session, principal: Principal) -> None:
    """After a change (flushed): refuse it if the acting admin lost ``user:manage``."""
    if not holds_user_manage(session, principal.user_id):
        raise AdminError("this would take user:manage away from you; ask another admin")


def note(value: str) -> str:
    cleaned = value.strip()
    if len(cleaned) > MAX_NOTE:
        raise AdminError(f"a note may have at most {MAX_NOTE} characters")
    return cleaned
