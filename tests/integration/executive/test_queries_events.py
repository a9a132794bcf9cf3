"""The read layer against real PostgreSQL: raw events (keyset pages, bounds, masking)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Connection

from integration.executive.queries_support import (
    DAY,
    EMEA,
    GLOBAL,
    HOUR,
    MINUTE,
    ORDERS_FIELDS,
    STEWARD,
    T0,
    UNALIGNED,
    World,
    conn,
    recompute,
    subtree,
    world,
)
from models.contracts import Contract
from models.permissions import Permission, Principal
from models.queries.common import Period, QueryLimits
from models.queries.executive.definitions import KpiDefinition, load_kpi
from models.queries.executive.events import EventCursor, Order, events_page
from models.queries.executive.rollups import fetch_stats, plan_reads
from models.queries.masking import MASK, visible_attrs
from models.writes import EventRow, write_events

__all__ = ["conn", "world"]  # fixtures


# --- raw events -----------------------------------------------------------------------------


def _all_pages(conn: Connection, kpi: KpiDefinition, order: Order, size: int) -> list[Any]:
    rows, cursor = [], None
    while True:
        page = events_page(
            conn, GLOBAL, kpi, "de", T0, T0 + DAY, page_size=size, after=cursor, order=order
        )
        rows.extend(page.rows)
        if page.next_cursor is None:
            return rows
        cursor = EventCursor.decode(page.next_cursor.encode())


@pytest.mark.parametrize("order", list(Order))
def test_keyset_pages_walk_every_event_once_in_order(
    world: World, conn: Connection, order: Order
) -> None:
    conversion = load_kpi(conn, GLOBAL, "conversion")  # reads both sources
    rows = _all_pages(conn, conversion, order, 97)

    expected = [e for e in world.raw if T0 <= e.ts < T0 + DAY and e.unit_id in subtree(4)]
    assert len(rows) == len(expected)
    assert len({(r.source_key, r.event_id) for r in rows}) == len(rows)
    stamps = [r.ts for r in rows]
    assert stamps == sorted(stamps, reverse=order is Order.NEWEST_FIRST)
    assert {r.source_key for r in rows} == {"orders", "web_sessions"}


def test_page_size_is_capped(conn: Connection) -> None:
    orders = load_kpi(conn, GLOBAL, "orders")
    capped = events_page(
        conn,
        GLOBAL,
        orders,
        "acme",
        T0,
        T0 + DAY,
        page_size=10_000,
        limits=QueryLimits(events_page_max=25),
    )
    assert capped.page_size == 25
    assert len(capped.rows) == 25
    assert capped.next_cursor is not None
    default = events_page(conn, GLOBAL, orders, "acme", T0 - DAY, T0 + 3 * DAY, page_size=10**6)
    assert len(default.rows) == QueryLimits().events_page_max
    with pytest.raises(ValueError, match="at least 1"):
        events_page(conn, GLOBAL, orders, "acme", T0, T0 + DAY, page_size=0)


def test_pii_is_masked_without_pii_view_and_shown_with_it(conn: Connection) -> None:
    orders = load_kpi(conn, GLOBAL, "orders")
    executive = events_page(conn, GLOBAL, orders, "acme", T0, T0 + DAY, page_size=50)
    steward = events_page(conn, STEWARD, orders, "acme", T0, T0 + DAY, page_size=50)

    assert [r.event_id for r in executive.rows] == [r.event_id for r in steward.rows]
    for masked, clear in zip(executive.rows, steward.rows, strict=True):
        assert masked.attrs == {"email": MASK, "margin": "thin", "coupon": "SPRING"}
        assert clear.attrs["email"] == f"buyer{clear.event_id[1:]}@example.com"
        assert masked.measures == clear.measures
        assert masked.dims == {"channel": "web"}
        assert "buyer" not in repr(masked)


def test_attributes_the_current_contract_does_not_describe_are_masked(
    world: World, conn: Connection
) -> None:
    stray = EventRow(T0 + HOUR, 1, "stray", 7, {"amount": 1.0}, {}, {"phone": "+49 30 1234"})
    write_events(world.engine, [stray])
    with world.read() as fresh:
        orders = load_kpi(fresh, GLOBAL, "orders")
        page = events_page(
            fresh, GLOBAL, orders, "de_retail", T0 + HOUR, T0 + HOUR + MINUTE, page_size=500
        )
    row = next(r for r in page.rows if r.event_id == "stray")
    assert row.attrs == {"phone": MASK}


def test_visible_attrs_rule() -> None:
    contract = Contract.from_row(2, ORDERS_FIELDS)
    attrs = {"email": "a@b.c", "margin": "thin", "coupon": "X", "unknown": "?"}
    kpi_only = Principal(8, frozenset({Permission.KPI_VIEW}), ("1",))
    pii_without_events = Principal(9, frozenset({Permission.PII_VIEW}), ("1",))

    assert visible_attrs(contract, kpi_only, attrs) == {
        "email": MASK,
        "coupon": "X",
        "unknown": MASK,
    }
    assert visible_attrs(contract, pii_without_events, attrs) == {
        "email": MASK,
        "coupon": "X",
        "unknown": MASK,
    }
    assert visible_attrs(contract, GLOBAL, attrs) == {
        "email": MASK,
        "margin": "thin",
        "coupon": "X",
        "unknown": MASK,
    }
    assert visible_attrs(contract, STEWARD, attrs) == attrs
    assert visible_attrs(None, GLOBAL, {"email": "a@b.c"}) == {"email": MASK}


def test_periods_must_be_whole_minutes() -> None:
    with pytest.raises(ValueError, match="whole minute"):
        Period(T0 + dt.timedelta(seconds=5), T0 + HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        Period(dt.datetime(2026, 3, 2), dt.datetime(2026, 3, 3))
    with pytest.raises(ValueError, match="before its end"):
        Period(T0, T0)
    assert Period.covering(T0 + dt.timedelta(seconds=5), T0 + HOUR) == Period(T0, T0 + HOUR)


def test_rollup_reads_filter_by_scope_in_sql_even_for_a_forged_unit(
    world: World, conn: Connection
) -> None:
    # Defence in depth: had a caller skipped resolve_unit and passed the company's path, the
    # SQL itself still keeps to the principal's subtrees.
    orders = load_kpi(conn, EMEA, "orders")
    found = fetch_stats(
        conn,
        scope_paths=EMEA.scope_paths,
        unit_id=1,
        unit_path="1",
        metric_ids=[orders.metric_ids["orders"]],
        plan=plan_reads(UNALIGNED),
        max_rows=1,
    )
    counted = found[(0, None)][orders.metric_ids["orders"]].n
    assert counted == recompute(orders.formula, world.raw, 2, UNALIGNED.start, UNALIGNED.end)
