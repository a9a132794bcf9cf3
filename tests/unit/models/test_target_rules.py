"""Which target a unit gets over a time range: own plans, allocation, pro-rating (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from models.enums import TargetAllocation, TargetGrain
from models.target_rules import ChainUnit, PlanBook, PlanRow, Target, TargetBasis, target_over

MONTH, QUARTER, YEAR = TargetGrain.MONTH, TargetGrain.QUARTER, TargetGrain.YEAR
EXPLICIT, EQUAL, SHARE = TargetAllocation.EXPLICIT, TargetAllocation.EQUAL, TargetAllocation.SHARE
GROUP, EMEA, DE = ChainUnit(1, "Group", 3), ChainUnit(2, "EMEA", 4), ChainUnit(3, "Germany", 2)
MARCH = dt.date(2026, 3, 1)
MARCH_START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
APRIL_START = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def over(
    plans: list[PlanRow],
    *,
    chain: tuple[ChainUnit, ...] = (EMEA, GROUP),
    start: dt.datetime = MARCH_START,
    end: dt.datetime = APRIL_START,
    additive: bool = True,
    shares: dict[tuple[int, dt.date], float | None] | None = None,
) -> Target:
    book = PlanBook(chain, tuple(plans), additive, 95.0, 85.0, shares or {})
    return target_over(book, start, end)


def test_a_unit_with_its_own_plan_gets_it() -> None:
    found = over([PlanRow(2, MONTH, MARCH, 31_000.0), PlanRow(1, MONTH, MARCH, 99_000.0, EQUAL)])
    assert (found.value, found.basis, found.text) == (31_000.0, TargetBasis.OWN,
                                                      "EMEA's own monthly plan")  # fmt: skip
    assert (found.warn_pct, found.crit_pct) == (95.0, 85.0)  # the KPI's defaults


def test_an_explicit_parent_plan_passes_nothing_down() -> None:
    found = over([PlanRow(1, MONTH, MARCH, 90_000.0, EXPLICIT)])
    assert found.value is None
    assert found.basis is TargetBasis.NONE
    assert "EMEA has no plan for March 2026" in found.text
    assert "explicit" in found.text


def test_equal_split_among_the_parents_children() -> None:
    found = over([PlanRow(1, MONTH, MARCH, 90_000.0, EQUAL, 90.0, 80.0)])
    assert found.value == pytest.approx(30_000.0)
    assert found.basis is TargetBasis.EQUAL
    assert found.text == "an equal split (1 of 3) of Group's own monthly plan"
    assert (found.warn_pct, found.crit_pct) == (90.0, 80.0)  # the plan's own levels


def test_the_rule_of_the_plan_carries_down_the_chain() -> None:
    found = over([PlanRow(1, MONTH, MARCH, 90_000.0, EQUAL)], chain=(DE, EMEA, GROUP))
    assert found.value == pytest.approx(7_500.0)  # 90,000 / 3 regions / 4 countries
    assert found.text == (
        "an equal split (1 of 4) of EMEA's target (an equal split (1 of 3) of Group's own "
        "monthly plan)"
    )


def test_share_by_last_years_value() -> None:
    found = over([PlanRow(1, MONTH, MARCH, 90_000.0, SHARE)], shares={(2, MARCH): 0.4})
    assert found.value == pytest.approx(36_000.0)
    assert found.basis is TargetBasis.SHARE
    assert found.text == "a 40.0 % share (by last year's value) of Group's own monthly plan"


def test_share_without_history_gives_no_target_and_says_so() -> None:
    found = over([PlanRow(1, MONTH, MARCH, 90_000.0, SHARE)], shares={(2, MARCH): None})
    assert found.value is None
    assert "there is no history" in found.text


def test_ratios_and_averages_pass_down_as_they_are() -> None:
    found = over([PlanRow(1, MONTH, MARCH, 3.6, EQUAL)], additive=False)
    assert found.value == 3.6
    assert found.text == "Group's own monthly plan, as is (a ratio or average is not split)"


def test_the_finest_own_plan_wins_and_coarser_ones_are_spread_over_their_days() -> None:
    quarter = PlanRow(2, QUARTER, dt.date(2026, 1, 1), 90_000.0)
    assert over([quarter]).value == pytest.approx(90_000.0 * 31 / 90)
    assert over([quarter]).text == "EMEA's own quarterly plan"
    assert over([quarter, PlanRow(2, MONTH, MARCH, 1.0)]).value == 1.0
    assert over([quarter], additive=False).value == 90_000.0


def test_a_frame_inside_a_month_gets_its_part_of_the_month_pro_rated_by_time() -> None:
    day = MARCH_START + dt.timedelta(days=9)
    found = over([PlanRow(2, MONTH, MARCH, 31_000.0)], start=day, end=day + dt.timedelta(hours=6))
    assert found.value == pytest.approx(31_000.0 / 31 / 4)
    assert found.text == "EMEA's own monthly plan, pro-rated"
    ratio = over([PlanRow(2, MONTH, MARCH, 3.6)], start=day, end=day + dt.timedelta(hours=6),
                 additive=False)  # fmt: skip
    assert (ratio.value, ratio.text) == (3.6, "EMEA's own monthly plan")


def test_a_frame_across_two_months_adds_each_months_part() -> None:
    plans = [PlanRow(2, MONTH, dt.date(2026, 2, 1), 28_000.0), PlanRow(2, MONTH, MARCH, 62_000.0)]
    start = MARCH_START - dt.timedelta(days=2)
    found = over(plans, start=start, end=start + dt.timedelta(days=7))
    assert found.value == pytest.approx(2 * 1_000.0 + 5 * 2_000.0)
    averaged = over(
        [PlanRow(2, MONTH, dt.date(2026, 2, 1), 2.0), PlanRow(2, MONTH, MARCH, 4.0)],
        start=start, end=start + dt.timedelta(days=8), additive=False,
    )  # fmt: skip
    assert averaged.value == pytest.approx((2 * 2.0 + 6 * 4.0) / 8)


def test_a_month_without_target_in_the_frame_means_no_target() -> None:
    start = MARCH_START - dt.timedelta(days=2)
    found = over(
        [PlanRow(2, MONTH, MARCH, 62_000.0)], start=start, end=start + dt.timedelta(days=7)
    )
    assert found.value is None
    assert "February 2026" in found.text


def test_the_top_unit_without_plan_has_none() -> None:
    found = over([], chain=(GROUP,))
    assert (found.value, found.text) == (None, "Group has no plan for March 2026")
