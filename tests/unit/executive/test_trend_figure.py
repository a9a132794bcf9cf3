"""The trend figure: current and previous periods on one axis, reference lines labelled."""

from __future__ import annotations

import datetime as dt

from dashboard.executive.figures.trend import CURRENT_NAME, PREVIOUS_NAME, references, trend_figure
from models.enums import Granularity, OrgLevel
from models.queries.executive.numbers import KpiSeries, SeriesPoint
from models.queries.scope import Unit

T0 = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
UNIT = Unit(1, "acme", "ACME", OrgLevel.COMPANY, None, "1")


def series(start: dt.datetime, values: list[float | None]) -> KpiSeries:
    points = tuple(
        SeriesPoint(start + i * HOUR, start + (i + 1) * HOUR, v) for i, v in enumerate(values)
    )
    return KpiSeries("revenue", UNIT, Granularity.HOUR, points, ("rollup_1h",))


def test_the_previous_period_is_dashed_and_shifted_onto_this_periods_axis() -> None:
    current = series(T0, [1.0, 2.0, 3.0])
    previous = series(T0 - 3 * HOUR, [4.0, 5.0, 6.0])
    figure = trend_figure(current, previous, title="Revenue")
    now, before = figure["data"]
    assert now["name"] == CURRENT_NAME
    assert before["name"] == PREVIOUS_NAME
    assert before["line"]["dash"] == "dash"
    assert before["x"] == now["x"] == [(T0 + i * HOUR).isoformat() for i in range(3)]
    assert before["y"] == [4.0, 5.0, 6.0]
    # Hover tells when the previous values really were.
    assert before["customdata"] == [(T0 - (3 - i) * HOUR).isoformat() for i in range(3)]


def test_buckets_without_a_value_are_gaps_not_zeros() -> None:
    figure = trend_figure(series(T0, [1.0, None, 3.0]), None, title="Revenue")
    [line] = figure["data"]
    assert line["y"] == [1.0, None, 3.0]
    assert line["connectgaps"] is False


def test_target_and_thresholds_are_named_lines_across_the_whole_period() -> None:
    lines = references(target=100.0, warn=80.0, crit=None)
    figure = trend_figure(series(T0, [90.0, 95.0]), None, title="Revenue", lines=lines)
    named = {trace["name"]: trace for trace in figure["data"][1:]}
    assert set(named) == {"Target", "Warning"}
    assert named["Target"]["y"] == [100.0, 100.0]
    assert named["Target"]["x"] == [T0.isoformat(), (T0 + 2 * HOUR).isoformat()]
    assert named["Warning"]["line"]["dash"] == "dashdot"


def test_an_empty_series_draws_no_reference_lines() -> None:
    lines = references(target=1.0, warn=None, crit=None)
    figure = trend_figure(series(T0, []), None, title="Revenue", lines=lines)
    assert [trace["name"] for trace in figure["data"]] == [CURRENT_NAME]


def test_period_targets_of_additive_kpis_are_drawn_per_bucket() -> None:
    lines = references(target=2400.0, warn=None, crit=1200.0, scale=1 / 24)
    assert [(line.name, line.value) for line in lines] == [
        ("Target (per bucket)", 100.0),
        ("Critical (per bucket)", 50.0),
    ]


def test_uirevision_is_set_only_when_given() -> None:
    assert "uirevision" not in trend_figure(series(T0, [1.0]), None, title="R")["layout"]
    kept = trend_figure(series(T0, [1.0]), None, title="R", uirevision="v1")
    assert kept["layout"]["uirevision"] == "v1"


def test_long_series_are_drawn_without_markers() -> None:
    short = trend_figure(series(T0, [1.0] * 60), None, title="R")["data"][0]
    long = trend_figure(series(T0, [1.0] * 61), None, title="R")["data"][0]
    assert (short["mode"], long["mode"]) == ("lines+markers", "lines")
