"""Raw events behind a KPI, for drill-down: scoped, bounded, classified fields masked.

:func:`events_page` reads keyset pages in time order; the grid's blocks (filtered and sorted
by whitelisted columns, offset pages up to the row limit) are in :mod:`models.queries.
event_block`, which shares the row shape and masking (:func:`row_of`) defined here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from models.contracts import Contract
from models.permissions import Permission, Principal
from models.queries.common import (
    DEFAULT_LIMITS,
    IN_SCOPE,
    QueryLimits,
    scope_params,
)
from models.queries.executive.definitions import KpiDefinition
from models.queries.masking import visible_attrs
from models.queries.scope import resolve_unit


class Order(StrEnum):
    NEWEST_FIRST = "desc"
    OLDEST_FIRST = "asc"


@dataclass(frozen=True, slots=True)
class EventCursor:
    """Where a page ended: the sort key of its last row. Opaque to the browser as a string."""

    ts: dt.datetime
    source_id: int
    event_id: str

    def encode(self) -> str:
        return json.dumps([self.ts.isoformat(), self.source_id, self.event_id])

    @classmethod
    def decode(cls, value: str) -> EventCursor:
        """Parse :meth:`encode`'s output; raises ValueError for anything else."""
        try:
            ts, source_id, event_id = json.loads(value)
            parsed = cls(dt.datetime.fromisoformat(ts), int(source_id), str(event_id))
        except (TypeError, ValueError) as exc:
            raise ValueError("not a valid events cursor") from exc
        if parsed.ts.tzinfo is None:
            raise ValueError("not a valid events cursor")
        return parsed


@dataclass(frozen=True, slots=True)
class RawEvent:
    ts: dt.datetime
    source_key: str
    event_id: str
    org_unit_key: str
    measures: dict[str, float]
    dims: dict[str, Any]
    attrs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventsPage:
    """A page of events; ``next_cursor`` is None on the last page."""

    rows: tuple[RawEvent, ...]
    page_size: int
    next_cursor: EventCursor | None


def current_contracts(connection: Connection, source_ids: Iterable[int]) -> dict[int, Contract]:
    """The highest contract version of each source (sources without one are absent)."""
    ids = sorted(set(source_ids))
    rows = connection.execute(
        text(
            "SELECT DISTINCT ON (source_id) source_id, version, fields FROM source_contracts "
            "WHERE source_id = ANY(:ids) ORDER BY source_id, version DESC LIMIT :limit"
        ),
        {"ids": ids, "limit": max(len(ids), 1)},
    )
    return {source_id: Contract.from_row(version, fields) for source_id, version, fields in rows}


_EVENTS = """
SELECT e.ts, e.source_id, s.key AS source_key, e.event_id, u.key AS org_unit_key,
       e.measures, e.dims, e.attrs
FROM events e
JOIN org_units u ON u.id = e.org_unit_id
JOIN sources s ON s.id = e.source_id
WHERE e.source_id = ANY(:source_ids)
  AND e.ts >= :start AND e.ts < :end
  AND u.path <@ CAST(:unit_path AS ltree)
  AND u.path <@ ANY({in_scope})
  {after}
ORDER BY e.ts {order}, e.source_id {order}, e.event_id {order}
LIMIT :limit
"""


def row_of(row: RowMapping, contract: Contract | None, principal: Principal) -> RawEvent:
    return RawEvent(
        ts=row["ts"],
        source_key=row["source_key"],
        event_id=row["event_id"],
        org_unit_key=row["org_unit_key"],
        measures=dict(row["measures"]),
        dims=visible_attrs(contract, principal, row["dims"]),
        attrs=visible_attrs(contract, principal, row["attrs"]),
    )


def events_page(
    connection: Connection,
    principal: Principal,
    kpi: KpiDefinition,
    unit: int | str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    page_size: int,
    after: EventCursor | None = None,
    order: Order = Order.NEWEST_FIRST,
    limits: QueryLimits = DEFAULT_LIMITS,
) -> EventsPage:
    """One page of the events of the KPI's sources in ``[start, end)`` under the unit.

    Keyset pagination on ``(ts, source_id, event_id)``: pass the previous page's
    ``next_cursor`` as ``after``. ``page_size`` is capped at ``limits.events_page_max``.
    Classified fields go through :func:`visible_attrs`.

    Raises:
        AccessDenied: missing ``event:view``, or the unit is not in the principal's scope.
        ValueError: ``page_size`` below 1.
    """
    principal.require(Permission.EVENT_VIEW)
    if page_size < 1:
        raise ValueError("page size must be at least 1")
    size = min(page_size, limits.events_page_max)
    resolved = resolve_unit(connection, principal, unit)
    comparison = "<" if order is Order.NEWEST_FIRST else ">"
    after_sql = (
        f"AND (e.ts, e.source_id, e.event_id) {comparison} (:after_ts, :after_source, :after_id)"
        if after
        else ""
    )
    params: dict[str, Any] = {
        "source_ids": sorted(kpi.source_ids),
        "start": start,
        "end": end,
        "unit_path": resolved.path,
        "limit": size + 1,
        **scope_params(principal.scope_paths),
    }
    if after:
        params.update(after_ts=after.ts, after_source=after.source_id, after_id=after.event_id)
    sql = _EVENTS.format(in_scope=IN_SCOPE, after=after_sql, order=order.value.upper())
    rows = list(connection.execute(text(sql), params).mappings())
    contracts = current_contracts(connection, kpi.source_ids)
    page = [row_of(row, contracts.get(row["source_id"]), principal) for row in rows[:size]]
    last = rows[size - 1] if len(rows) > size else None
    cursor = EventCursor(last["ts"], last["source_id"], last["event_id"]) if last else None
    return EventsPage(tuple(page), size, cursor)
