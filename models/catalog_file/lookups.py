"""Reads the sections share: the org units and users a file may refer to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from models.enums import OrgLevel
from models.org import OrgUnit
from models.queries.admin.sources import STEWARD_PERMISSIONS
from models.users import RolePermission, User, UserRole, UserScope


@dataclass(frozen=True, slots=True)
class UnitRow:
    id: int
    key: str
    name: str
    level: OrgLevel
    parent_key: str | None


def stored_units(session: Session) -> list[UnitRow]:
    """Every org unit with its parent's key, in the order they were created."""
    parent = aliased(OrgUnit)
    rows = session.execute(
        select(OrgUnit.id, OrgUnit.key, OrgUnit.name, OrgUnit.level, parent.key)
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .order_by(OrgUnit.id)
    )
    return [UnitRow(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class StewardRow:
    """An active user named as a steward: may they steward, and which subtrees they see."""

    id: int
    may_steward: bool
    scope_keys: frozenset[str]


def stewards(session: Session, emails: set[str]) -> dict[str, StewardRow]:
    """The active users among ``emails``, by lower-cased e-mail."""
    if not emails:
        return {}
    users: dict[str, int] = dict(
        session.execute(
            select(func.lower(User.email), User.id).where(
                func.lower(User.email).in_(sorted(e.lower() for e in emails)),
                User.is_active.is_(True),
            )
        ).all()
    )
    ids = sorted(users.values())
    allowed = set(
        session.scalars(
            select(UserRole.user_id)
            .join(RolePermission, RolePermission.role_id == UserRole.role_id)
            .where(
                UserRole.user_id.in_(ids),
                RolePermission.permission.in_(list(STEWARD_PERMISSIONS)),
            )
        )
    )
    scopes: dict[int, set[str]] = {}
    for user_id, key in session.execute(
        select(UserScope.user_id, OrgUnit.key)
        .join(OrgUnit, OrgUnit.id == UserScope.org_unit_id)
        .where(UserScope.user_id.in_(ids))
    ):
        scopes.setdefault(user_id, set()).add(key)
    return {
        email: StewardRow(i, i in allowed, frozenset(scopes.get(i, set())))
        for email, i in users.items()
    }


def steward_problem(
    email: str, owner: str, found: dict[str, StewardRow], parents: dict[str, str | None]
) -> str | None:
    """Why ``email`` cannot steward what ``owner`` owns (the admin console's rule), if so.

    Args:
        parents: every unit's parent once the files are applied.
    """
    row = found.get(email.lower())
    if row is None:
        return f"no active user with e-mail {email!r} (create the user first)"
    if not row.may_steward:
        return f"{email} holds neither {' nor '.join(STEWARD_PERMISSIONS)}"
    chain: set[str] = set()
    node: str | None = owner
    while node is not None and node not in chain:
        chain.add(node)
        node = parents.get(node)
    if not chain & row.scope_keys:
        return f"the scope of {email} does not include the owner unit {owner!r}"
    return None


def user_emails(session: Session) -> dict[int, str]:
    """Every user's e-mail by id (exports name stewards by e-mail)."""
    return dict(session.execute(select(User.id, User.email)).all())


def unit_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(OrgUnit.key, OrgUnit.id)).all())
