"""Target period keys: calendar months, fiscal quarters and fiscal years."""

from __future__ import annotations

import datetime as dt

import pytest

from models.enums import TargetGrain
from models.target_periods import (
    PeriodKeyError,
    fiscal_year_of,
    parse_period,
    period_bounds,
    period_end,
    period_key,
)

MONTH, QUARTER, YEAR = TargetGrain.MONTH, TargetGrain.QUARTER, TargetGrain.YEAR
APRIL = 4


def test_with_fiscal_years_starting_in_april_q1_is_april_to_june() -> None:
    start = parse_period("2026-Q1", QUARTER, APRIL)
    assert start == dt.date(2025, 4, 1)
    assert period_end(QUARTER, start) == dt.date(2025, 7, 1)
    assert parse_period("FY2026-Q4", QUARTER, APRIL) == dt.date(2026, 1, 1)


def test_a_fiscal_year_is_named_by_the_year_it_ends_in() -> None:
    start = parse_period("FY2026", YEAR, APRIL)
    assert (start, period_end(YEAR, start)) == (dt.date(2025, 4, 1), dt.date(2026, 4, 1))
    assert fiscal_year_of(dt.date(2025, 4, 1), APRIL) == 2026
    assert fiscal_year_of(dt.date(2025, 3, 31), APRIL) == 2025


def test_with_the_default_start_fiscal_and_calendar_periods_agree() -> None:
    assert parse_period("2026-Q1", QUARTER, 1) == dt.date(2026, 1, 1)
    assert parse_period("2026-Q3", QUARTER, 1) == dt.date(2026, 7, 1)
    assert parse_period("FY2026", YEAR, 1) == dt.date(2026, 1, 1)
    assert parse_period("2026", YEAR, 1) == dt.date(2026, 1, 1)
    assert parse_period("2026-03", MONTH, APRIL) == dt.date(2026, 3, 1)


@pytest.mark.parametrize(
    ("grain", "key"),
    [(MONTH, "2026-03"), (QUARTER, "2026-Q2"), (QUARTER, "2027-Q4"), (YEAR, "FY2027")],
)
def test_keys_round_trip(grain: TargetGrain, key: str) -> None:
    assert period_key(grain, parse_period(key, grain, APRIL), APRIL) == key


def test_a_period_off_the_fiscal_calendar_is_kept_by_its_first_day() -> None:
    start = parse_period("2026-02-01", QUARTER, APRIL)
    assert start == dt.date(2026, 2, 1)
    assert period_key(QUARTER, start, APRIL) == "2026-02-01"
    assert parse_period(period_key(QUARTER, start, APRIL), QUARTER, APRIL) == start


@pytest.mark.parametrize(
    ("grain", "key", "says"),
    [
        (MONTH, "2026-13", "no month 13"),
        (MONTH, "2026-Q1", "not a month key"),
        (QUARTER, "2026-Q5", "not a quarter key"),
        (YEAR, "FY26", "not a year key"),
        (MONTH, "2026-03-15", "first day of a month"),
        (MONTH, "2026-02-30", "not a date"),
    ],
)
def test_bad_keys_are_refused_with_the_reason(grain: TargetGrain, key: str, says: str) -> None:
    with pytest.raises(PeriodKeyError, match=says):
        parse_period(key, grain, APRIL)


def test_period_bounds_are_utc_midnights() -> None:
    start, end = period_bounds(QUARTER, dt.date(2025, 4, 1))
    assert start == dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    assert end == dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
