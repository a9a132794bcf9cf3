"""The events grid's blocks: filtered and sorted by whitelisted columns, offset-paged up to
the row limit, scoped and masked like every drill-down read
(:mod:`models.queries.executive.events`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from models.permissions import Permission, Principal
from models.queries.common import (
    DEFAULT_LIMITS,
    IN_SCOPE,
    Period,
    QueryLimits,
    QueryTooLarge,
    scope_params,
)
from models.queries.executive.definitions import KpiDefinition
from models.queries.executive.event_query import (
    ColumnFilter,
    ColumnGroup,
    ColumnSort,
    Condition,
    EventColumn,
    EventField,
    EventQuery,
    FilterOp,
    ValueKind,
    check_query,
    field_catalog,
)
from models.queries.executive.event_window import block_window
from models.queries.executive.events import RawEvent, current_contracts, row_of
from models.queries.scope import Unit, resolve_unit


@dataclass(frozen=True, slots=True)
class EventsBlock:
    """Rows ``start_row`` to ``start_row + len(rows)`` of the filtered, sorted events.

    ``row_count`` is the number of rows the grid may page through, once known: the number of
    matching events when the block reaches the last of them, ``limits.row_limit`` when more
    match than that (``truncated``), None while more follow (nothing counts the whole result).
    """

    rows: tuple[RawEvent, ...]
    start_row: int
    page_size: int
    row_count: int | None
    truncated: bool = False


def event_catalog(
    connection: Connection, principal: Principal, kpi: KpiDefinition
) -> dict[EventColumn, EventField]:
    """The columns of the KPI's events the principal may see, filter and sort by."""
    principal.require(Permission.EVENT_VIEW)
    return field_catalog(current_contracts(connection, kpi.source_ids), principal)


_FIXED_SQL = {
    ColumnGroup.TS: "e.ts",
    ColumnGroup.SOURCE: "s.key",
    ColumnGroup.EVENT_ID: "e.event_id",
    ColumnGroup.UNIT: "u.key",
}
_DOCUMENT_SQL = {
    ColumnGroup.MEASURES: "e.measures",
    ColumnGroup.DIMS: "e.dims",
    ColumnGroup.ATTRS: "e.attrs",
}
_COMPARISONS = {
    FilterOp.EQUALS: "=",
    FilterOp.LESS_THAN: "<",
    FilterOp.LESS_THAN_OR_EQUAL: "<=",
    FilterOp.GREATER_THAN: ">",
    FilterOp.GREATER_THAN_OR_EQUAL: ">=",
}
_LIKE_PATTERNS = {
    FilterOp.EQUALS: "{}",
    FilterOp.NOT_EQUAL: "{}",
    FilterOp.CONTAINS: "%{}%",
    FilterOp.NOT_CONTAINS: "%{}%",
    FilterOp.STARTS_WITH: "{}%",
    FilterOp.ENDS_WITH: "%{}",
}
_NEGATED = frozenset({FilterOp.NOT_EQUAL, FilterOp.NOT_CONTAINS})


class _Sql:
    """Builds predicates and sort keys from checked columns; every value is a bound parameter.

    SQL text comes only from the constant maps above and from parameter names this class
    makes up (``p0``, ``p1``, …); field names and user values travel as parameters.
    """

    def __init__(self, catalog: dict[EventColumn, EventField]) -> None:
        self.catalog = catalog
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def value(self, column: EventColumn) -> str:
        """The column's value; for a field, NULL where it is absent or not a number."""
        if column.name is None:
            return _FIXED_SQL[column.group]
        document, key = _DOCUMENT_SQL[column.group], self.bind(column.name)
        if self.catalog[column].kind is ValueKind.NUMBER:
            return (
                f"(CASE WHEN jsonb_typeof({document} -> CAST({key} AS text)) = 'number' "
                f"THEN CAST({document} ->> CAST({key} AS text) AS double precision) END)"
            )
        return f"({document} ->> CAST({key} AS text))"

    def declared_by(self, column: EventColumn) -> str | None:
        """Only the events of sources whose contract declares the field (None: all)."""
        if column.name is None:
            return None
        return f"e.source_id = ANY({self.bind(sorted(self.catalog[column].sources))})"

    def sort_key(self, column: EventColumn) -> str:
        declared = self.declared_by(column)
        value = self.value(column)
        return value if declared is None else f"(CASE WHEN {declared} THEN {value} END)"

    def column_filter(self, column_filter: ColumnFilter) -> str:
        value = self.value(column_filter.column)
        joined = (" OR " if column_filter.any_of else " AND ").join(
            self.condition(value, c) for c in column_filter.conditions
        )
        declared = self.declared_by(column_filter.column)
        return f"({joined})" if declared is None else f"({declared} AND ({joined}))"

    def condition(self, value: str, condition: Condition) -> str:
        if condition.op in (FilterOp.BLANK, FilterOp.NOT_BLANK):
            blank = f"{value} IS NULL"
            if condition.kind is ValueKind.TEXT:
                blank += f" OR {value} = ''"
            # Never NULL: "IS NULL OR" decides for a missing value.
            return f"({blank})" if condition.op is FilterOp.BLANK else f"(NOT ({blank}))"
        if condition.kind is ValueKind.TEXT:
            return self._text(value, condition.op, str(condition.value))
        if condition.kind is ValueKind.TIME:
            return self._time(value, condition)
        return self._number(value, condition)

    def _text(self, value: str, op: FilterOp, text_value: str) -> str:
        # Case-insensitive like ag-grid's own text filter; wildcards in the value are literal.
        escaped = text_value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"{value} ILIKE {self.bind(_LIKE_PATTERNS[op].format(escaped))} ESCAPE '\\'"
        return f"({value} IS NULL OR NOT ({like}))" if op in _NEGATED else f"({like})"

    def _number(self, value: str, condition: Condition) -> str:
        low = self.bind(condition.value)
        if condition.op is FilterOp.IN_RANGE:
            return f"({value} BETWEEN {low} AND {self.bind(condition.value_to)})"
        if condition.op is FilterOp.NOT_EQUAL:
            return f"({value} IS NULL OR {value} <> {low})"
        return f"({value} {_COMPARISONS[condition.op]} {low})"

    def _time(self, value: str, condition: Condition) -> str:
        start = self.bind(condition.value)
        if condition.op is FilterOp.IN_RANGE:
            return f"({value} >= {start} AND {value} < {self.bind(condition.value_to)})"
        return f"({value} {_COMPARISONS[condition.op]} {start})"

    def order_by(self, sort: tuple[ColumnSort, ...]) -> str:
        """The requested keys (empty values last), then time, source and event id as ties."""
        keys = [
            f"{self.sort_key(s.column)} {'DESC' if s.descending else 'ASC'} NULLS LAST"
            for s in sort
        ]
        by_time = next((s for s in sort if s.column.group is ColumnGroup.TS), None)
        direction = "ASC" if by_time is not None and not by_time.descending else "DESC"
        ties = ("e.ts", "e.source_id", "e.event_id")[1 if by_time is not None else 0 :]
        return ", ".join([*keys, *(f"{t} {direction}" for t in ties)])


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """SQL fragments (``AND …`` predicates, the ORDER BY list) and their bound parameters."""

    filters: str
    order: str
    params: dict[str, Any]


def compile_query(query: EventQuery, catalog: dict[EventColumn, EventField]) -> CompiledQuery:
    """The query's filters and sort as SQL over ``events e``, ``sources s`` and ``org_units u``.

    Raises:
        ValueError, AccessDenied: as :func:`check_query` (it is called first).
    """
    check_query(query, catalog)
    sql = _Sql(catalog)
    filters = "".join(f"\n  AND {sql.column_filter(f)}" for f in query.filters)
    order = sql.order_by(query.sort)
    return CompiledQuery(filters, order, sql.params)


_BLOCK = """
SELECT e.ts, e.source_id, s.key AS source_key, e.event_id, u.key AS org_unit_key,
       e.measures, e.dims, e.attrs
FROM events e
JOIN org_units u ON u.id = e.org_unit_id
JOIN sources s ON s.id = e.source_id
WHERE e.source_id = ANY(:source_ids)
  AND e.ts >= :start AND e.ts < :end
  AND u.path <@ CAST(:unit_path AS ltree)
  AND u.path <@ ANY({in_scope})
  {filters}
ORDER BY {order}
LIMIT :limit OFFSET :offset
"""


def _time_order(query: EventQuery) -> bool | None:
    """Whether the block is in time order only: True newest first, False oldest first,
    None when filtered or sorted by another column (its rows may lie anywhere in the period)."""
    if query.filters:
        return None
    if not query.sort:
        return True
    if len(query.sort) == 1 and query.sort[0].column.group is ColumnGroup.TS:
        return query.sort[0].descending
    return None


def events_block(
    connection: Connection,
    principal: Principal,
    kpi: KpiDefinition,
    unit: int | str | Unit,
    start: dt.datetime,
    end: dt.datetime,
    *,
    query: EventQuery,
    start_row: int,
    page_size: int,
    limits: QueryLimits = DEFAULT_LIMITS,
) -> EventsBlock:
    """Rows ``start_row`` onwards of the KPI's events in ``[start, end)`` under the unit.

    Filtered and sorted as ``query`` says (newest first without a sort), over the columns of
    :func:`event_catalog` only. ``page_size`` is capped at ``limits.events_page_max``, and
    blocks end at ``limits.row_limit`` (offset paging reads every skipped row: a deeper look
    needs a narrower filter or period).

    Raises:
        AccessDenied: missing ``event:view``, the unit out of scope, or a masked column asked.
        ValueError: an unknown column, a wrong operator, a negative start or a page below 1.
        QueryTooLarge: ``start_row`` at or beyond ``limits.row_limit``.
    """
    principal.require(Permission.EVENT_VIEW)
    if page_size < 1 or start_row < 0:
        raise ValueError("rows must start at 0 or later and a page hold at least 1")
    if start_row >= limits.row_limit:
        raise QueryTooLarge(
            f"only the first {limits.row_limit:,} matching events can be paged through; "
            "narrow the filters or the period"
        )
    size = min(page_size, limits.events_page_max, limits.row_limit - start_row)
    resolved = unit if isinstance(unit, Unit) else resolve_unit(connection, principal, unit)
    contracts = current_contracts(connection, kpi.source_ids)
    catalog = field_catalog(contracts, principal)
    compiled = compile_query(query, catalog)
    params: dict[str, Any] = {
        **compiled.params,
        "source_ids": sorted(kpi.source_ids),
        "start": start,
        "end": end,
        "unit_path": resolved.path,
        "limit": size + 1,
        "offset": start_row,
        **scope_params(principal.scope_paths),
    }
    text_sql = text(
        _BLOCK.format(in_scope=IN_SCOPE, filters=compiled.filters, order=compiled.order)
    )
    newest_first = _time_order(query)
    window = (
        None
        if newest_first is None
        else block_window(
            connection,
            principal,
            resolved,
            kpi.source_ids,
            Period.covering(start, end),
            rows=start_row + size + 1,
            newest_first=newest_first,
        )
    )
    if window is not None:
        narrowed = {**params, "start": max(start, window.start), "end": min(end, window.end)}
        rows = list(connection.execute(text_sql, narrowed).mappings())
    if window is None or len(rows) <= size:
        # The whole period: no window, or it held fewer rows than the counts said.
        rows = list(connection.execute(text_sql, params).mappings())
    page = tuple(row_of(row, contracts.get(row["source_id"]), principal) for row in rows[:size])
    more = len(rows) > size
    truncated = more and start_row + size >= limits.row_limit
    row_count = limits.row_limit if truncated else (None if more else start_row + len(page))
    return EventsBlock(page, start_row, size, row_count, truncated)
