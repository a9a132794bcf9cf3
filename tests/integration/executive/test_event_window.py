"""A time-ordered events block read over the hours the rollups say hold its rows.

The narrowed read must give exactly the rows of a read over the whole period: the reference
here is the same block with a time filter that matches every event of the period, which
turns the narrowing off (a filtered block's rows may lie anywhere in the period).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from integration.executive.queries_support import DAY, GLOBAL, HOUR, MINUTE, T0, World, conn, world
from integration.factories import require_native
from models.queries.common import Period
from models.queries.executive.definitions import load_kpi
from models.queries.executive.event_block import events_block
from models.queries.executive.event_query import (
    ColumnFilter,
    ColumnGroup,
    ColumnSort,
    Condition,
    EventColumn,
    EventQuery,
    FilterOp,
    ValueKind,
)
from models.queries.executive.event_window import block_window, count_metric_ids
from models.queries.scope import resolve_unit

__all__ = ["conn", "world"]  # the fixtures, used by name

PERIOD = Period(T0 - DAY + 7 * HOUR + 13 * MINUTE, T0 + 3 * DAY - 5 * HOUR)
TIME = EventColumn(ColumnGroup.TS)


def _ordered(newest_first: bool) -> EventQuery:
    return EventQuery(sort=(ColumnSort(TIME, descending=newest_first),))


def _reference(newest_first: bool) -> EventQuery:
    """The same order, with a filter every event of the period passes: read in full."""
    everything = Condition(FilterOp.GREATER_THAN, ValueKind.TIME, PERIOD.start - MINUTE)
    return EventQuery(
        filters=(ColumnFilter(TIME, (everything,)),),
        sort=(ColumnSort(TIME, descending=newest_first),),
    )


def _block(conn: Connection, kpi: str, unit: str, query: EventQuery, start_row: int) -> list[str]:
    block = events_block(
        conn,
        GLOBAL,
        load_kpi(conn, GLOBAL, kpi),
        unit,
        PERIOD.start,
        PERIOD.end,
        query=query,
        start_row=start_row,
        page_size=100,
    )
    return [f"{row.source_key}/{row.event_id}" for row in block.rows]


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("unit", ["acme", "de", "de_retail", "us_online"])
@pytest.mark.parametrize("kpi", ["orders", "conversion"])
def test_a_narrowed_block_has_the_rows_of_the_whole_period(
    conn: Connection, kpi: str, unit: str, newest_first: bool
) -> None:
    for start_row in (0, 97, 400):
        narrowed = _block(conn, kpi, unit, _ordered(newest_first), start_row)
        whole = _block(conn, kpi, unit, _reference(newest_first), start_row)
        assert narrowed == whole
    assert _block(conn, kpi, unit, EventQuery(), 0) == _block(conn, kpi, unit, _reference(True), 0)


def _window(conn: Connection, unit: str, rows: int, newest_first: bool) -> Period | None:
    orders = load_kpi(conn, GLOBAL, "orders")
    resolved = resolve_unit(conn, GLOBAL, unit)
    return block_window(
        conn, GLOBAL, resolved, orders.source_ids, PERIOD, rows=rows, newest_first=newest_first
    )


def _events_in(conn: Connection, unit: str, window: Period) -> int:
    return int(
        conn.scalar(
            text(
                "SELECT count(*) FROM events e JOIN org_units u ON u.id = e.org_unit_id "
                "JOIN org_units top ON top.key = :unit "
                "WHERE e.source_id = 1 AND u.path <@ top.path "
                "AND e.ts >= :start AND e.ts < :end"
            ),
            {"unit": unit, "start": window.start, "end": window.end},
        )
    )


@pytest.mark.parametrize("newest_first", [True, False])
def test_the_window_is_the_hours_that_hold_the_rows(conn: Connection, newest_first: bool) -> None:
    window = _window(conn, "de_retail", 60, newest_first)
    assert window is not None
    assert window.length < PERIOD.length / 4
    assert (window.end == PERIOD.end) if newest_first else (window.start == PERIOD.start)
    # Enough rows, and the hour beyond the window's edge would not have been needed.
    assert _events_in(conn, "de_retail", window) >= 60
    edge = window.start + HOUR if newest_first else window.end - HOUR
    inner = Period(edge, window.end) if newest_first else Period(window.start, edge)
    assert _events_in(conn, "de_retail", inner) < 60


def test_no_window_when_the_period_holds_too_few_rows(conn: Connection) -> None:
    assert _window(conn, "de_retail", 100_000, True) is None
    assert count_metric_ids(conn, []) == []


def test_counts_that_overstate_fall_back_to_the_whole_period(
    world: World, conn: Connection
) -> None:
    """Rollups claiming events that are not there (retention removed them, say) cost a
    second read, never a short or wrong block."""
    require_native(world.engine)  # tampers with the rollups: views on TimescaleDB
    with world.engine.begin() as writer:
        writer.execute(text("UPDATE rollup_1h SET n = n + 1000 WHERE metric_id = 1"))
        writer.execute(text("UPDATE rollup_1m SET n = n + 1000 WHERE metric_id = 1"))
    window = _window(conn, "de_retail", 150, True)
    assert window is not None
    assert window.length <= 2 * HOUR
    for start_row in (0, 150):
        assert _block(conn, "orders", "de_retail", _ordered(True), start_row) == _block(
            conn, "orders", "de_retail", _reference(True), start_row
        )
