"""Judging a value against a unit's own target with levels relative to it."""

from __future__ import annotations

import pytest

from models.enums import Direction
from models.judging import Status, judge, level
from models.target_rules import Target, TargetBasis

HIGHER, LOWER = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER
OWN = "EMEA's own monthly plan, pro-rated"


def target(value: float, warn: float | None, crit: float | None) -> Target:
    return Target(value, TargetBasis.OWN, OWN, warn, crit)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (1000.0, Status.ON_TARGET),
        (960.0, Status.ON_TARGET),  # within 95 %
        (949.0, Status.WARNING),
        (851.0, Status.WARNING),
        (849.0, Status.CRITICAL),
    ],
)
def test_higher_is_better_warns_below_95_and_is_critical_below_85_percent(
    value: float, status: Status
) -> None:
    judged = judge(value, target(1000.0, 95.0, 85.0), HIGHER)
    assert judged.status is status
    assert (judged.target, judged.warn, judged.crit) == (1000.0, 950.0, 850.0)
    assert judged.explanation == OWN


@pytest.mark.parametrize(
    ("value", "status"),
    [(90.0, Status.ON_TARGET), (104.0, Status.ON_TARGET), (106.0, Status.WARNING),
     (116.0, Status.CRITICAL)],
)  # fmt: skip
def test_lower_is_better_warns_above_105_and_is_critical_above_115_percent(
    value: float, status: Status
) -> None:
    assert judge(value, target(100.0, 105.0, 115.0), LOWER).status is status


def test_without_levels_missing_the_target_is_a_warning_never_critical() -> None:
    assert judge(99.0, target(100.0, None, None), HIGHER).status is Status.WARNING
    assert judge(1.0, target(100.0, None, None), HIGHER).status is Status.WARNING
    assert judge(100.0, target(100.0, None, None), HIGHER).status is Status.ON_TARGET
    assert judge(101.0, target(100.0, None, None), LOWER).status is Status.WARNING


def test_no_target_gives_no_status_and_says_why() -> None:
    why = "EMEA has no plan for March 2026"
    judged = judge(500.0, Target(None, TargetBasis.NONE, why), HIGHER)
    assert judged.status is Status.NO_TARGET
    assert (judged.target, judged.warn, judged.crit, judged.explanation) == (None, None, None, why)
    assert judge(500.0, None, HIGHER).status is Status.NO_TARGET


def test_no_value_is_no_data_but_keeps_the_target() -> None:
    judged = judge(None, target(100.0, 95.0, None), HIGHER)
    assert judged.status is Status.NO_DATA
    assert judged.target == 100.0


def test_levels_of_a_negative_target_lie_on_its_bad_side() -> None:
    assert level(100.0, 95.0) == pytest.approx(95.0)
    assert level(-100.0, 95.0) == pytest.approx(-105.0)
    assert judge(-106.0, target(-100.0, 95.0, 85.0), HIGHER).status is Status.WARNING
    assert judge(-104.0, target(-100.0, 95.0, 85.0), HIGHER).status is Status.ON_TARGET
