"""The plain-language KPI summary and the page parameters it relies on."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboard.executive.summary import (
    PeriodChoice,
    SummaryInput,
    UnitChange,
    auto_granularity,
    checked_key,
    format_value,
    parse_granularity,
    parse_period_choice,
    period_for,
    summarize,
)
from models.enums import Direction, Granularity
from models.judging import Status

NOW = dt.datetime(2026, 3, 4, 15, 27, 41, tzinfo=dt.UTC)
HIGHER, LOWER = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER
REGIONS = [UnitChange("EMEA", 150.0, 100.0), UnitChange("Americas", 90.0, 100.0)]


def _input(value: float | None, previous: float | None, **extra: object) -> SummaryInput:
    fields: dict[str, object] = {
        "kpi_name": "Revenue",
        "value": value,
        "previous": previous,
        "direction": HIGHER,
        "previous_label": "the previous 7 days",
        "unit": "EUR",
    }
    return SummaryInput(**(fields | extra))  # type: ignore[arg-type]


def test_a_rise_names_the_change_the_leading_unit_and_that_it_is_good() -> None:
    text = summarize(_input(240.0, 200.0, children=REGIONS, late_sources=[]))
    assert text == (
        "Revenue is up 20.0 % on the previous 7 days at 240.00 EUR, led by EMEA "
        "(an improvement). Data is fresh."
    )


def test_a_fall_of_a_lower_is_better_kpi_is_an_improvement_led_by_the_biggest_fall() -> None:
    text = summarize(_input(190.0, 200.0, direction=LOWER, children=REGIONS))
    assert text == (
        "Revenue is down 5.0 % on the previous 7 days at 190.00 EUR, led by Americas "
        "(an improvement)."
    )


def test_a_fall_of_a_higher_is_better_kpi_is_a_deterioration() -> None:
    assert summarize(_input(50.0, 100.0)).endswith("(a deterioration).")


def test_tiny_changes_are_flat() -> None:
    text = summarize(_input(100.01, 100.0))
    assert text == "Revenue is flat on the previous 7 days at 100.01 EUR."


OWN = "EMEA's own monthly plan, pro-rated"


def test_the_target_its_origin_and_late_sources_are_mentioned() -> None:
    text = summarize(
        _input(90.0, 80.0, target=100.0, target_text=OWN, status=Status.WARNING,
               late_sources=["Orders", "Refunds"])
    )  # fmt: skip
    assert f"It misses its target of 100.00 EUR ({OWN})." in text
    assert text.endswith("Data from Orders, Refunds is late against its freshness SLA.")
    met = summarize(
        _input(30.0, 80.0, target=40.0, target_text=OWN, status=Status.ON_TARGET, direction=LOWER)
    )
    assert f"It meets its target of 40.00 EUR ({OWN})." in met
    critical = summarize(_input(50.0, 80.0, target=100.0, target_text=OWN, status=Status.CRITICAL))
    assert "past the critical level" in critical


def test_a_unit_without_target_says_so_and_why() -> None:
    why = "EMEA has no plan for March 2026"
    text = summarize(_input(90.0, 80.0, target_text=why, status=Status.NO_TARGET))
    assert f"It has no target here: {why}." in text
    assert "meets" not in text
    assert "misses" not in text


def test_the_quality_badge_replaces_freshness_when_known() -> None:
    ok = summarize(_input(1.0, 1.0, late_sources=["Orders"], quality_reasons=[]))
    assert ok.endswith("Data is fresh and complete.")
    bad = summarize(_input(1.0, 1.0, quality_reasons=["Orders: no events for 2 h"]))
    assert bad.endswith("Take care with the data: Orders: no events for 2 h.")


def test_no_previous_value_or_no_value_at_all_is_said_plainly() -> None:
    assert summarize(_input(10.0, 0.0)) == (
        "Revenue is 10.00 EUR; there is no value for the previous 7 days to compare with."
    )
    assert summarize(_input(None, 10.0)) == "There is no Revenue value for this period."


def test_format_value_falls_back_on_a_broken_format() -> None:
    assert format_value(1234.5, ",.1f", "EUR") == "1,234.5 EUR"
    assert format_value(1234.5, "not a format") == "1,234.50"
    assert format_value(None, ",.2f") == "—"


def test_periods_end_at_now_and_today_starts_at_utc_midnight() -> None:
    week = period_for(PeriodChoice.LAST_7_DAYS, NOW)
    assert week.end == dt.datetime(2026, 3, 4, 15, 28, tzinfo=dt.UTC)  # includes this minute
    assert week.start == dt.datetime(2026, 2, 25, 15, 27, tzinfo=dt.UTC)
    today = period_for(PeriodChoice.TODAY, NOW)
    assert today.start == dt.datetime(2026, 3, 4, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("choice", "granularity"),
    [
        (PeriodChoice.LAST_HOUR, Granularity.MINUTE),
        (PeriodChoice.TODAY, Granularity.HOUR),
        (PeriodChoice.LAST_7_DAYS, Granularity.HOUR),
        (PeriodChoice.LAST_30_DAYS, Granularity.DAY),
    ],
)
def test_automatic_granularity_keeps_charts_readable(
    choice: PeriodChoice, granularity: Granularity
) -> None:
    assert auto_granularity(period_for(choice, NOW)) is granularity


@pytest.mark.parametrize("value", ["forever", 7, ["7d"], {"7d": 1}, "7D", " 7d"])
def test_untrusted_periods_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="period must be one of 1h, today, 7d, 30d"):
        parse_period_choice(value)


def test_parameters_default_and_refuse_garbage() -> None:
    assert parse_period_choice(None) is PeriodChoice.LAST_7_DAYS
    assert parse_granularity("auto") is None
    assert parse_granularity("day") is Granularity.DAY
    with pytest.raises(ValueError, match="granularity"):
        parse_granularity("second")
    assert checked_key(" revenue ", "KPI") == "revenue"
    for bad in (None, 5, "", "x" * 101, "a\nb"):
        with pytest.raises(ValueError, match="KPI"):
            checked_key(bad, "KPI")
