"""The escalation ladder: who is told about an incident at each level, and how soon it climbs.

Level 0 is the incident's owner (its assignee, else the source's steward, else the stewards
of the source's owner unit); an incident nobody acknowledged climbs one level each time its
severity's delay passes: to the owner unit (everyone who may manage incidents there), then to
the administrators. The top level does not climb further.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

from sqlalchemy import Connection, text

from models.permissions import Permission
from models.quality.tables import Severity
from models.settings import Settings


class Level(IntEnum):
    OWNER = 0
    OWNER_UNIT = 1
    ADMINS = 2

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Level.OWNER: "the incident's owner",
    Level.OWNER_UNIT: "the source's owner unit",
    Level.ADMINS: "the administrators",
}
TOP = Level.ADMINS


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """How long an unacknowledged incident waits at a level, by severity, and whether an
    incident whose check recovers is resolved without a steward."""

    delays: dict[Severity, dt.timedelta]
    auto_resolve: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> EscalationPolicy:
        return cls(
            delays={
                Severity.CRITICAL: dt.timedelta(seconds=settings.dq_escalation_critical_s),
                Severity.WARNING: dt.timedelta(seconds=settings.dq_escalation_warning_s),
            },
            auto_resolve=settings.dq_auto_resolve,
        )

    def next_step(self, severity: Severity, level: int, since: dt.datetime) -> dt.datetime | None:
        """When an incident at ``level`` since ``since`` climbs next (None: at the top)."""
        return None if level >= TOP else since + self.delays[severity]


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Ownership:
    """Who an incident belongs to (what the recipients of each level are worked out from)."""

    owner_unit_id: int
    owner_user_id: int | None
    assignee_id: int | None


_NAME = "coalesce(nullif(u.display_name, ''), u.email)"

_HOLDERS = f"""
SELECT DISTINCT u.id, {_NAME} AS name FROM users u
JOIN user_roles ur ON ur.user_id = u.id
JOIN role_permissions rp ON rp.role_id = ur.role_id AND rp.permission = :permission
WHERE u.is_active
  AND (CAST(:unit AS integer) IS NULL OR EXISTS (
    SELECT 1 FROM user_scopes us
    JOIN org_units granted ON granted.id = us.org_unit_id
    JOIN org_units target ON target.id = CAST(:unit AS integer)
    WHERE us.user_id = u.id AND target.path <@ granted.path))
ORDER BY u.id
LIMIT :limit
"""

_ACTIVE_USER = text(f"SELECT u.id, {_NAME} FROM users u WHERE u.id = :id AND u.is_active LIMIT 1")


def _holders(
    connection: Connection, permission: Permission, unit_id: int | None, limit: int
) -> list[Recipient]:
    rows = connection.execute(
        text(_HOLDERS),
        {"permission": permission.value, "unit": unit_id, "limit": limit},
    )
    return [Recipient(user_id, name) for user_id, name in rows]


def recipients(
    connection: Connection, ownership: Ownership, level: Level, *, limit: int = 200
) -> list[Recipient]:
    """The active users told about an incident that reaches ``level``."""
    if level is Level.OWNER:
        for user_id in (ownership.assignee_id, ownership.owner_user_id):
            if user_id is not None:
                row = connection.execute(_ACTIVE_USER, {"id": user_id}).first()
                if row is not None:
                    return [Recipient(row[0], row[1])]
        return _holders(connection, Permission.INCIDENT_MANAGE, ownership.owner_unit_id, limit)
    if level is Level.OWNER_UNIT:
        return _holders(connection, Permission.INCIDENT_MANAGE, ownership.owner_unit_id, limit)
    return _holders(connection, Permission.USER_MANAGE, None, limit)


_MANAGER = f"""
SELECT u.id, {_NAME} FROM users u
WHERE u.id = :user_id AND u.is_active
  AND EXISTS (SELECT 1 FROM user_roles ur
              JOIN role_permissions rp ON rp.role_id = ur.role_id
              WHERE ur.user_id = u.id AND rp.permission = :permission)
  AND EXISTS (SELECT 1 FROM user_scopes us
              JOIN org_units granted ON granted.id = us.org_unit_id
              JOIN org_units target ON target.id = :unit
              WHERE us.user_id = u.id AND target.path <@ granted.path)
LIMIT 1
"""


def manager_of(connection: Connection, user_id: int, unit_id: int) -> Recipient | None:
    """The user, if active, allowed to manage incidents and with ``unit_id`` in scope."""
    row = connection.execute(
        text(_MANAGER),
        {"user_id": user_id, "unit": unit_id, "permission": Permission.INCIDENT_MANAGE.value},
    ).first()
    return None if row is None else Recipient(row[0], row[1])
