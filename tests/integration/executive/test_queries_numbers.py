"""The read layer against real PostgreSQL: exact numbers (values, series, breakdowns)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, text

from integration.executive.queries_support import (
    DAY,
    GLOBAL,
    HOUR,
    KEYS,
    KPIS,
    MINUTE,
    T0,
    UNALIGNED,
    World,
    conn,
    kpis_by_key,
    recompute,
    same,
    world,
)
from integration.factories import insert_unit, require_native
from models.enums import Granularity
from models.queries.common import Period, QueryLimits, QueryTooLarge
from models.queries.executive.definitions import load_kpi
from models.queries.executive.numbers import kpi_breakdown, kpi_series, kpi_value, kpi_values
from models.queries.executive.rollups import plan_reads

__all__ = ["conn", "world"]  # fixtures


# --- exact numbers --------------------------------------------------------------------------


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
