"""Writing ``audit_log`` rows: every configuration or permission change names who, what, how."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from models.logs import AuditLog


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: a user (``user_id``) or a named system process (``user_id`` None)."""

    name: str
    user_id: int | None = None


def json_value(value: Any) -> Any:
    """A JSON-storable form of a column value (enums by value, datetimes in ISO 8601)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_value(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    return value


def record_change(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int | None,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Add an audit row to ``session`` (committed with the change it describes).

    Args:
        action: what happened, ``<target>.<verb>`` such as ``source.create``.
        before: the changed values before, None for a creation.
        after: the changed values after, None for a deletion.
    """
    row = AuditLog(
        actor_id=actor.user_id,
        actor=actor.name,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=None if before is None else json_value(before),
        after=None if after is None else json_value(after),
        detail=json_value(detail or {}),
    )
    session.add(row)
    return row
