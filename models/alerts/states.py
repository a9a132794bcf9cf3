"""The evaluation's writes: each rule's current state and the history of its transitions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models.alerts.tables import AlertEvent, AlertState, AlertStateRow


@dataclass(frozen=True, slots=True)
class EventRow:
    """One transition to record."""

    rule_id: int
    at: dt.datetime
    from_state: AlertState
    to_state: AlertState
    value: float | None
    threshold: float
    clear_threshold: float
    muted: bool
    detail: Mapping[str, Any]


def locked_states(
    session: Session, rule_ids: Collection[int], now: dt.datetime
) -> dict[int, AlertStateRow]:
    """The state rows of ``rule_ids``, locked for this transaction; a rule without one (made
    before its first evaluation by other means) gets an ``ok`` row since ``now``."""
    ids = sorted(set(rule_ids))
    found = {
        row.rule_id: row
        for row in session.scalars(
            select(AlertStateRow)
            .where(AlertStateRow.rule_id.in_(ids))
            .order_by(AlertStateRow.rule_id)
            .with_for_update()
        )
    }
    for rule_id in ids:
        if rule_id not in found:
            row = AlertStateRow(rule_id=rule_id, state=AlertState.OK, since=now)
            session.add(row)
            found[rule_id] = row
    session.flush()
    return found


def add_events(session: Session, events: Collection[EventRow]) -> None:
    """Record transitions (in the caller's transaction)."""
    if not events:
        return
    rows = [
        {
            "rule_id": e.rule_id,
            "at": e.at,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "value": e.value,
            "threshold": e.threshold,
            "clear_threshold": e.clear_threshold,
            "muted": e.muted,
            "detail": dict(e.detail),
        }
        for e in events
    ]
    session.execute(insert(AlertEvent), rows)
