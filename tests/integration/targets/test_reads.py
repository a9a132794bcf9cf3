"""``target_for`` against real PostgreSQL: own plans, equal split, share from the daily rollups."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from models.enums import TargetAllocation, TargetGrain
from models.permissions import AccessDenied
from models.queries.executive.definitions import KpiDefinition, load_kpi
from models.queries.targets import target_for
from models.target_periods import period_bounds
from models.target_rules import Target, TargetBasis
from models.targets import TargetPlanSpec

from .support import apply, principal, seed_org, write_orders

MONTH = TargetGrain.MONTH
MARCH = period_bounds(MONTH, dt.date(2026, 3, 1))
LAST_YEAR = dt.datetime(2025, 6, 10, 12, tzinfo=dt.UTC)  # inside the year before March 2026


@pytest.fixture
def org(db: Engine) -> tuple[Engine, dict[str, int], dict[str, int]]:
    units, sources = seed_org(db)
    return db, units, sources


def target(engine: Engine, unit: str, bounds: tuple[dt.datetime, dt.datetime],
           *, scope: str = "group", kpi: str = "revenue") -> Target:  # fmt: skip
    who = principal(engine, scope)
    with engine.connect() as connection:
        definition: KpiDefinition = load_kpi(connection, who, kpi)
        return target_for(connection, who, definition, unit, *bounds)


def group_plan(engine: Engine, allocation: TargetAllocation, period: str = "2026-03") -> None:
    apply(engine, [TargetPlanSpec("revenue", "group", MONTH, period, 90_000.0, allocation)])


def test_share_comes_from_last_years_daily_rollups(org: tuple[Engine, dict[str, int],
                                                              dict[str, int]]) -> None:  # fmt: skip
    engine, units, sources = org
    write_orders(engine, sources, units["de"], LAST_YEAR, [200.0, 100.0])  # EMEA, via Germany
    write_orders(engine, sources, units["amer"], LAST_YEAR, [100.0])
    write_orders(engine, sources, units["emea"], MARCH[0], [10_000.0])  # not last year: ignored
    group_plan(engine, TargetAllocation.SHARE)

    emea = target(engine, "emea", MARCH)
    assert emea.value == pytest.approx(67_500.0)  # 75 % of 90,000
    assert emea.basis is TargetBasis.SHARE
    assert (
        emea.text == "a 75.0 % share (by last year's value) of Northstar Group's own monthly plan"
    )
    assert target(engine, "amer", MARCH).value == pytest.approx(22_500.0)
    # Germany, EMEA's only source of orders, gets all of EMEA's part.
    assert target(engine, "de", MARCH).value == pytest.approx(67_500.0)
    # Asia-Pacific had no orders: no history of its own, so no target (rather than 0).
    apac = target(engine, "apac", MARCH)
    assert apac.value is None
    assert "no history" in apac.text


def test_share_without_history_gives_no_target_and_says_so(
    org: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, _units, _sources = org
    group_plan(engine, TargetAllocation.SHARE)
    emea = target(engine, "emea", MARCH)
    assert emea.value is None
    assert emea.basis is TargetBasis.NONE
    assert "no history in the year before the plan" in emea.text


def test_equal_split_counts_the_parents_children(
    org: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, _units, _sources = org
    group_plan(engine, TargetAllocation.EQUAL)
    emea = target(engine, "emea", MARCH)
    assert emea.value == pytest.approx(30_000.0)  # three regions
    assert emea.text == "an equal split (1 of 3) of Northstar Group's own monthly plan"


def test_explicit_plans_give_only_their_own_units_a_target(
    org: tuple[Engine, dict[str, int], dict[str, int]],
) -> None:
    engine, _units, _sources = org
    group_plan(engine, TargetAllocation.EXPLICIT)
    apply(engine, [TargetPlanSpec("revenue", "emea", MONTH, "2026-03", 31_000.0)])
    day = (MARCH[0] + dt.timedelta(days=4), MARCH[0] + dt.timedelta(days=5))
    emea = target(engine, "emea", day, scope="emea")
    assert (emea.value, emea.text) == (pytest.approx(1_000.0), "EMEA's own monthly plan, pro-rated")
    assert (emea.warn_pct, emea.crit_pct) == (95.0, 85.0)  # the KPI's defaults
    assert target(engine, "amer", MARCH).value is None


def test_the_unit_must_be_in_scope(org: tuple[Engine, dict[str, int], dict[str, int]]) -> None:
    engine, _units, _sources = org
    group_plan(engine, TargetAllocation.EQUAL)
    assert target(engine, "emea", MARCH, scope="emea").value == pytest.approx(30_000.0)
    with pytest.raises(AccessDenied):
        target(engine, "amer", MARCH, scope="emea")
