"""Reads the sections share: the org units and users a file may refer to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from models.enums import OrgLevel
from models.org import OrgUnit
from models.users import User


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


def user_ids(session: Session, emails: set[str]) -> dict[str, int]:
    """The active users among ``emails``, by lower-cased e-mail."""
    if not emails:
        return {}
    rows = session.execute(
        select(func.lower(User.email), User.id).where(
            func.lower(User.email).in_(sorted(e.lower() for e in emails)),
            User.is_active.is_(True),
        )
    )
    return dict(rows.all())


def user_emails(session: Session) -> dict[int, str]:
    """Every user's e-mail by id (exports name stewards by e-mail)."""
    return dict(session.execute(select(User.id, User.email)).all())


def unit_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(OrgUnit.key, OrgUnit.id)).all())


def steward_message(email: str) -> str:
    return f"no active user with e-mail {email!r} (create the user first)"
