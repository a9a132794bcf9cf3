"""Writing ``access_log``: one entry per guarded callback call and per sign-in or sign-out.

The sink is a plain callable kept in ``app.extensions`` so the caching/throttling layer can
replace the synchronous writer with a buffered one without touching the callbacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, insert

from models.audit import json_value
from models.enums import Outcome
from models.logs import AccessLog

_CLIENT_MAX = 64


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One row of ``access_log``: who, what (page and action), scope, rows, outcome."""

    user_id: int | None
    page: str
    action: str
    scope: tuple[str, ...]
    rows: int
    outcome: Outcome
    duration_ms: float | None = None
    client: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class AccessSink(Protocol):
    """Where access entries go; raising means the entry was not kept."""

    def __call__(self, entry: AccessEntry) -> None: ...


class DatabaseAccessSink:
    """Inserts each entry in its own short transaction (committed before the answer leaves)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self, entry: AccessEntry) -> None:
        with self._engine.begin() as connection:
            connection.execute(insert(AccessLog).values(**entry_values(entry)))


def entry_values(entry: AccessEntry) -> dict[str, Any]:
    """The column values of ``entry`` (strings cut to their column widths)."""
    return {
        "user_id": entry.user_id,
        "page": entry.page[:200],
        "action": entry.action[:200],
        "scope": list(entry.scope),
        "rows": entry.rows,
        "outcome": entry.outcome,
        "duration_ms": entry.duration_ms,
        "client": entry.client[:_CLIENT_MAX] if entry.client else None,
        "detail": json_value(dict(entry.detail)),
    }
