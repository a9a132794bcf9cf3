"""The read layer against real PostgreSQL: scope and permissions, unknown and broken KPIs."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from integration.executive.queries_support import (
    DAY,
    EMEA,
    GLOBAL,
    T0,
    UNALIGNED,
    World,
    conn,
    recompute,
    same,
    world,
)
from models.enums import Granularity
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import Period
from models.queries.executive.definitions import InvalidKpi, UnknownKpi, load_kpi, load_kpis
from models.queries.executive.events import events_page
from models.queries.executive.numbers import kpi_breakdown, kpi_series, kpi_value
from models.queries.scope import OUT_OF_SCOPE, child_units, resolve_unit, root_units

__all__ = ["conn", "world"]  # fixtures


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
