"""The read layer against real PostgreSQL: exact numbers, scope, masking and bounds."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from integration.factories import insert_metric, insert_source, insert_unit, require_native
from models.contracts import Contract
from models.enums import Granularity
from models.formulas import Formula
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import Period, QueryLimits, QueryTooLarge, read_connection
from models.queries.executive.definitions import (
    InvalidKpi,
    KpiDefinition,
    UnknownKpi,
    load_kpi,
    load_kpis,
)
from models.queries.executive.events import EventCursor, Order, events_page
from models.queries.executive.numbers import kpi_breakdown, kpi_series, kpi_value, kpi_values
from models.queries.executive.rollups import fetch_stats, plan_reads
from models.queries.masking import MASK, visible_attrs
from models.queries.scope import OUT_OF_SCOPE, child_units, resolve_unit, root_units
from models.settings import Settings
from models.writes import EventRow, write_events

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
HOUR, DAY, MINUTE = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(minutes=1)

# id, key, level, parent id, path
UNITS = [
    (1, "acme", "company", None, "1"),
    (2, "emea", "region", 1, "1.2"),
    (3, "amer", "region", 1, "1.3"),
    (4, "de", "country", 2, "1.2.4"),
    (5, "fr", "country", 2, "1.2.5"),
    (6, "us", "country", 3, "1.3.6"),
    (7, "de_retail", "business_unit", 4, "1.2.4.7"),
    (8, "de_online", "business_unit", 4, "1.2.4.8"),
    (9, "fr_retail", "business_unit", 5, "1.2.5.9"),
    (10, "us_retail", "business_unit", 6, "1.3.6.10"),
    (11, "us_online", "business_unit", 6, "1.3.6.11"),
]
# Events land on business units, and a few on a country directly.
EVENT_UNITS = [7, 8, 9, 10, 11, 4]
PATHS = {unit_id: path for unit_id, _, _, _, path in UNITS}
KEYS = {unit_id: key for unit_id, key, _, _, _ in UNITS}

ORDERS_FIELDS = [
    {"name": "order_id", "type": "string", "role": "event_id"},
    {"name": "ts", "type": "timestamp", "role": "timestamp"},
    {"name": "unit", "type": "string", "role": "org_unit", "reference": "org_units"},
    {"name": "amount", "type": "float", "role": "measure", "min": 0},
    {"name": "channel", "type": "enum", "role": "dimension", "allowed": ["web", "store"]},
    {"name": "email", "type": "string", "role": "attribute", "classification": "pii"},
    {"name": "margin", "type": "string", "role": "attribute", "classification": "confidential"},
    {"name": "coupon", "type": "string", "role": "attribute", "classification": "internal"},
]
SESSIONS_FIELDS = ORDERS_FIELDS[:3]

KPIS = {
    "revenue": "sum(orders.amount)",
    "orders": "count(orders)",
    "aov": "sum(orders.amount) / count(orders)",
    "conversion": "100 * count(orders) / count(web_sessions)",
    "largest_order": "max(orders.amount)",
    "smallest_order": "min(orders.amount)",
    "avg_order": "avg(orders.amount)",
}

GLOBAL = Principal(1, frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW}), ("1",))
EMEA = Principal(2, frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW}), ("1.2",))
STEWARD = Principal(3, frozenset(Permission), ("1",))


@dataclass(frozen=True)
class Raw:
    ts: dt.datetime
    source: str
    unit_id: int
    amount: float | None


def subtree(unit_id: int) -> set[int]:
    root = PATHS[unit_id]
    return {u for u, p in PATHS.items() if p == root or p.startswith(root + ".")}


def recompute(
    formula: Formula, raw: list[Raw], unit_id: int, start: dt.datetime, end: dt.datetime
) -> float | None:
    """The formula computed by hand from the raw events: what every rollup read must equal."""
    units = subtree(unit_id)
    picked = [e for e in raw if start <= e.ts < end and e.unit_id in units]
    values: dict[Any, float | None] = {}
    for agg in formula.aggregates:
        source, _, measure = agg.metric_key.partition(".")
        xs = [e.amount if measure else 1.0 for e in picked if e.source == source]
        xs = [x for x in xs if x is not None]
        values[agg] = {
            "count": float(len(xs)),
            "sum": sum(xs),
            "min": min(xs) if xs else None,
            "max": max(xs) if xs else None,
            "avg": sum(xs) / len(xs) if xs else None,
        }[agg.func]
    return formula.evaluate(values)


def same(actual: float | None, expected: float | None) -> bool:
    """Equal up to float summation order; None (no value) only equals None."""
    if actual is None or expected is None:
        return actual is expected
    return actual == pytest.approx(expected, rel=1e-9)


def _insert_world(connection: Connection) -> None:
    for unit_id, key, level, parent, path in UNITS:
        insert_unit(connection, unit_id, key, level, path, parent)
    for source_id, key in [(1, "orders"), (2, "web_sessions")]:
        insert_source(connection, source_id, key, freshness_sla_s=60)
    # Version 1 did not classify the email yet: the current (highest) version must win.
    old_orders = [dict(f, classification="internal") for f in ORDERS_FIELDS]
    contracts = [(1, 1, old_orders), (1, 2, ORDERS_FIELDS), (2, 1, SESSIONS_FIELDS)]
    for source_id, version, fields in contracts:
        Contract.from_row(version, fields)  # the test data itself must be a valid contract
        connection.execute(
            text(
                "INSERT INTO source_contracts (source_id, version, fields) "
                "VALUES (:s, :v, CAST(:f AS jsonb))"
            ),
            {"s": source_id, "v": version, "f": json.dumps(fields)},
        )
    for metric_id, key, source_id, measure in [
        (1, "orders", 1, None),
        (2, "orders.amount", 1, "amount"),
        (3, "web_sessions", 2, None),
    ]:
        insert_metric(connection, metric_id, key, source_id, measure)
    for key, formula in KPIS.items():
        connection.execute(
            text(
                "INSERT INTO kpis (key, name, owner_unit_id, formula) "
                "VALUES (:key, :name, 1, :formula)"
            ),
            {"key": key, "name": key.title(), "formula": formula},
        )


def _events(rng: random.Random) -> tuple[list[EventRow], list[Raw]]:
    rows, raw = [], []
    span = int((4 * DAY).total_seconds())
    for i in range(3000):
        ts = T0 - DAY + dt.timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        unit = rng.choice(EVENT_UNITS)
        amount = round(rng.uniform(5, 500), 2)
        attrs = {"email": f"buyer{i}@example.com", "margin": "thin", "coupon": "SPRING"}
        rows.append(EventRow(ts, 1, f"o{i}", unit, {"amount": amount}, {"channel": "web"}, attrs))
        raw.append(Raw(ts, "orders", unit, amount))
    for i in range(2000):
        ts = T0 - DAY + dt.timedelta(seconds=rng.randrange(span))
        unit = rng.choice(EVENT_UNITS)
        rows.append(EventRow(ts, 2, f"s{i}", unit))
        raw.append(Raw(ts, "web_sessions", unit, None))
    return rows, raw


@dataclass(frozen=True)
class World:
    engine: Engine
    settings: Settings
    raw: list[Raw]

    def read(self) -> AbstractContextManager[Connection]:
        return read_connection(self.engine, self.settings)


@pytest.fixture
def world(db: Engine, settings: Settings) -> World:
    with db.begin() as connection:
        _insert_world(connection)
    rows, raw = _events(random.Random(20260302))
    for start in range(0, len(rows), 1000):
        write_events(db, rows[start : start + 1000])
    return World(db, settings, raw)


@pytest.fixture
def conn(world: World) -> Iterator[Connection]:
    with world.read() as connection:
        yield connection


def kpis_by_key(connection: Connection, principal: Principal = GLOBAL) -> dict[str, KpiDefinition]:
    return {kpi.key: kpi for kpi in load_kpis(connection, principal)}


# --- exact numbers --------------------------------------------------------------------------


UNALIGNED = Period(T0 + 5 * HOUR + 17 * MINUTE, T0 + 2 * DAY + 3 * HOUR + 41 * MINUTE)


def test_unaligned_period_reads_days_hours_and_minutes() -> None:
    tables = [piece.table for piece in plan_reads(UNALIGNED)]
    assert tables == ["rollup_1m", "rollup_1h", "rollup_1d", "rollup_1h", "rollup_1m"]
    assert [p.start for p in plan_reads(Period(T0, T0 + 2 * DAY))] == [T0]


@pytest.mark.parametrize("unit_id", [1, 2, 4, 7])
def test_value_of_unaligned_period_and_previous_equal_raw_events(
    world: World, conn: Connection, unit_id: int
) -> None:
    kpis = kpis_by_key(conn)
    values = kpi_values(conn, GLOBAL, list(kpis.values()), KEYS[unit_id], UNALIGNED)

    previous = UNALIGNED.previous
    assert previous == Period(UNALIGNED.start - UNALIGNED.length, UNALIGNED.start)
    for value in values:
        formula = kpis[value.kpi_key].formula
        expected = recompute(formula, world.raw, unit_id, UNALIGNED.start, UNALIGNED.end)
        expected_before = recompute(formula, world.raw, unit_id, previous.start, previous.end)
        assert same(value.value, expected), value.kpi_key
        assert same(value.previous_value, expected_before), value.kpi_key
        assert value.previous_period == previous
    assert {v.kpi_key for v in values} == set(KPIS)


def test_today_so_far_includes_the_current_minute(world: World, conn: Connection) -> None:
    now = T0 + DAY + 13 * HOUR + 7 * MINUTE + dt.timedelta(seconds=42)
    period = Period.covering(T0 + DAY, now)
    assert period.end == T0 + DAY + 13 * HOUR + 8 * MINUTE

    orders = load_kpi(conn, GLOBAL, "orders")
    value = kpi_value(conn, GLOBAL, orders, 1, period)
    assert value.value == recompute(orders.formula, world.raw, 1, period.start, period.end)


def test_empty_period_counts_zero_and_has_no_average(conn: Connection) -> None:
    kpis = kpis_by_key(conn)
    empty = Period(T0 + 30 * DAY, T0 + 31 * DAY)
    values = {v.kpi_key: v.value for v in kpi_values(conn, GLOBAL, list(kpis.values()), 1, empty)}
    assert values["orders"] == 0
    assert values["revenue"] == 0
    assert values["aov"] is None
    assert values["largest_order"] is None


@pytest.mark.parametrize(
    ("granularity", "period"),
    [
        (Granularity.HOUR, Period(T0 + 3 * HOUR + 20 * MINUTE, T0 + DAY + 5 * HOUR)),
        (Granularity.DAY, Period(T0 - DAY, T0 + 3 * DAY)),
        (Granularity.DAY, Period(T0 + 7 * HOUR + 5 * MINUTE, T0 + 2 * DAY + 30 * MINUTE)),
        (Granularity.MINUTE, Period(T0 + 10 * HOUR, T0 + 12 * HOUR)),
    ],
)
def test_series_equal_raw_events_per_bucket(
    world: World, conn: Connection, granularity: Granularity, period: Period
) -> None:
    kpis = kpis_by_key(conn)
    for key in ("revenue", "aov", "conversion", "smallest_order"):
        series = kpi_series(conn, GLOBAL, kpis[key], "emea", period, granularity)

        assert series.points[0].start == period.start
        assert series.points[-1].end == period.end
        for before, after in zip(series.points, series.points[1:], strict=False):
            assert before.end == after.start
        for point in series.points:
            expected = recompute(kpis[key].formula, world.raw, 2, point.start, point.end)
            assert same(point.value, expected), (key, point.start)


def test_day_series_on_whole_days_reads_rollup_1d(world: World, conn: Connection) -> None:
    require_native(world.engine)  # tampers with rollup_1d: a view on TimescaleDB
    orders = load_kpi(conn, GLOBAL, "orders")
    days = Period(T0, T0 + 2 * DAY)
    before = kpi_series(conn, GLOBAL, orders, 1, days, Granularity.DAY)
    assert before.tables_read == ("rollup_1d",)
    hourly = kpi_series(conn, GLOBAL, orders, 1, days, Granularity.HOUR)
    assert hourly.tables_read == ("rollup_1h",)

    # Tamper with one day row: the day series must show it, the hourly one must not.
    with world.engine.begin() as tamper:
        tamper.execute(
            text(
                "UPDATE rollup_1d SET n = n + 1000 "
                "WHERE metric_id = 1 AND bucket = :day AND org_unit_id = 7"
            ),
            {"day": T0},
        )
    with world.read() as fresh:
        after = kpi_series(fresh, GLOBAL, orders, 1, days, Granularity.DAY)
        hourly_after = kpi_series(fresh, GLOBAL, orders, 1, days, Granularity.HOUR)
    assert after.points[0].value == pytest.approx(before.points[0].value + 1000)
    assert after.points[1].value == before.points[1].value
    assert hourly_after.points == hourly.points


def test_too_many_buckets_is_refused(conn: Connection) -> None:
    orders = load_kpi(conn, GLOBAL, "orders")
    month = Period(T0, T0 + 30 * DAY)
    with pytest.raises(QueryTooLarge, match="43200 minute buckets"):
        kpi_series(conn, GLOBAL, orders, 1, month, Granularity.MINUTE)
    small = QueryLimits(row_limit=24)
    assert (
        len(
            kpi_series(
                conn, GLOBAL, orders, 1, Period(T0, T0 + DAY), Granularity.HOUR, limits=small
            ).points
        )
        == 24
    )
    with pytest.raises(QueryTooLarge):
        kpi_series(
            conn, GLOBAL, orders, 1, Period(T0, T0 + DAY + HOUR), Granularity.HOUR, limits=small
        )


@pytest.mark.parametrize("key", ["revenue", "orders"])
def test_breakdown_of_additive_kpi_sums_to_parent(world: World, conn: Connection, key: str) -> None:
    kpi = load_kpi(conn, GLOBAL, key)
    assert kpi.formula.is_additive
    breakdown = kpi_breakdown(conn, GLOBAL, kpi, "acme", UNALIGNED)
    total = kpi_value(conn, GLOBAL, kpi, "acme", UNALIGNED).value

    assert [row.unit.key for row in breakdown.rows] == ["amer", "emea"]
    assert sum(row.value or 0 for row in breakdown.rows) == pytest.approx(total, rel=1e-9)
    for row in breakdown.rows:
        expected = recompute(kpi.formula, world.raw, row.unit.id, UNALIGNED.start, UNALIGNED.end)
        assert same(row.value, expected)


def test_breakdown_lists_children_without_data(world: World, conn: Connection) -> None:
    with world.engine.begin() as connection:
        insert_unit(connection, 12, "uk", "country", "1.2.12", parent_id=2)
    with world.read() as fresh:
        orders = load_kpi(fresh, GLOBAL, "orders")
        aov = load_kpi(fresh, GLOBAL, "aov")
        counts = kpi_breakdown(fresh, GLOBAL, orders, "emea", UNALIGNED)
        ratios = kpi_breakdown(fresh, GLOBAL, aov, "emea", UNALIGNED)
    assert [(r.unit.key, r.value) for r in counts.rows][-1] == ("uk", 0)
    assert [(r.unit.key, r.value) for r in ratios.rows][-1] == ("uk", None)


# --- scope ----------------------------------------------------------------------------------

EMEA_UNITS = {"emea", "de", "fr", "de_retail", "de_online", "fr_retail"}


def test_scope_roots_children_and_lookups(conn: Connection) -> None:
    assert [u.key for u in root_units(conn, EMEA)] == ["emea"]
    two = Principal(4, frozenset({Permission.KPI_VIEW}), ("1.3", "1.2.4", "1.2.4.7"))
    assert [u.key for u in root_units(conn, two)] == ["de", "amer"]

    emea = resolve_unit(conn, EMEA, "emea")
    assert resolve_unit(conn, EMEA, emea.id) == emea
    assert [u.key for u in child_units(conn, EMEA, emea)] == ["de", "fr"]
    assert [u.key for u in child_units(conn, two, resolve_unit(conn, two, "de"))] == [
        "de_online",
        "de_retail",
    ]


@pytest.mark.parametrize("unit", ["acme", 1, "amer", 3, "us", "us_retail", 10, "nowhere", 999])
def test_units_outside_scope_are_denied_without_saying_whether_they_exist(
    conn: Connection, unit: int | str
) -> None:
    with pytest.raises(AccessDenied) as caught:
        resolve_unit(conn, EMEA, unit)
    assert str(caught.value) == OUT_OF_SCOPE

    orders = load_kpi(conn, EMEA, "orders")
    period = Period(T0, T0 + DAY)
    calls = [
        lambda: kpi_value(conn, EMEA, orders, unit, period),
        lambda: kpi_series(conn, EMEA, orders, unit, period, Granularity.HOUR),
        lambda: kpi_breakdown(conn, EMEA, orders, unit, period),
        lambda: events_page(conn, EMEA, orders, unit, T0, T0 + DAY, page_size=10),
    ]
    for call in calls:
        with pytest.raises(AccessDenied, match=OUT_OF_SCOPE):
            call()


def test_breakdown_above_the_scope_is_denied(conn: Connection) -> None:
    germany = Principal(5, frozenset({Permission.KPI_VIEW}), ("1.2.4",))
    orders = load_kpi(conn, germany, "orders")
    with pytest.raises(AccessDenied):
        kpi_breakdown(conn, germany, orders, "emea", UNALIGNED)
    assert [r.unit.key for r in kpi_breakdown(conn, germany, orders, "de", UNALIGNED).rows] == [
        "de_online",
        "de_retail",
    ]


def test_regional_principal_sees_only_its_subtree(world: World, conn: Connection) -> None:
    revenue = load_kpi(conn, EMEA, "revenue")
    value = kpi_value(conn, EMEA, revenue, "emea", UNALIGNED)
    assert same(
        value.value, recompute(revenue.formula, world.raw, 2, UNALIGNED.start, UNALIGNED.end)
    )
    assert value.value != kpi_value(conn, GLOBAL, revenue, "acme", UNALIGNED).value

    series = kpi_series(conn, EMEA, revenue, "emea", Period(T0, T0 + DAY), Granularity.HOUR)
    assert all(
        same(p.value, recompute(revenue.formula, world.raw, 2, p.start, p.end))
        for p in series.points
    )

    page = events_page(conn, EMEA, revenue, "emea", T0 - DAY, T0 + 3 * DAY, page_size=500)
    assert len(page.rows) == 500
    assert {row.org_unit_key for row in page.rows} <= EMEA_UNITS


def test_principal_with_a_narrower_grant_than_the_unit_path_gets_only_its_grant(
    world: World, conn: Connection
) -> None:
    # A scope of two subtrees; the company-level unit is still out of reach.
    two = Principal(4, frozenset({Permission.KPI_VIEW}), ("1.3", "1.2.4"))
    orders = load_kpi(conn, two, "orders")
    for unit_id in (3, 4):
        value = kpi_value(conn, two, orders, unit_id, UNALIGNED)
        assert value.value == recompute(
            orders.formula, world.raw, unit_id, UNALIGNED.start, UNALIGNED.end
        )
    with pytest.raises(AccessDenied):
        kpi_value(conn, two, orders, "acme", UNALIGNED)


def test_missing_permissions_are_denied(conn: Connection) -> None:
    no_kpis = Principal(6, frozenset({Permission.EVENT_VIEW}), ("1",))
    no_events = Principal(7, frozenset({Permission.KPI_VIEW}), ("1",))
    orders = load_kpi(conn, GLOBAL, "orders")
    with pytest.raises(AccessDenied, match="kpi:view"):
        load_kpis(conn, no_kpis)
    with pytest.raises(AccessDenied, match="kpi:view"):
        kpi_value(conn, no_kpis, orders, "acme", UNALIGNED)
    with pytest.raises(AccessDenied, match="event:view"):
        events_page(conn, no_events, orders, "acme", T0, T0 + DAY, page_size=10)


def test_unknown_and_broken_kpis_say_so(world: World, conn: Connection) -> None:
    with pytest.raises(UnknownKpi):
        load_kpi(conn, GLOBAL, "nope")
    with world.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO kpis (key, name, owner_unit_id, formula) "
                "VALUES ('typo', 'Typo', 1, 'sum(orders.amout)')"
            )
        )
    with (
        world.read() as fresh,
        pytest.raises(InvalidKpi, match="'typo': position 4: unknown metric"),
    ):
        load_kpi(fresh, GLOBAL, "typo")


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
