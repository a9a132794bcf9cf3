"""Every figure builder returns a plain dict that plotly accepts as it is.

The builders skip ``plotly.graph_objects`` at run time (its validation costs milliseconds per
figure); here plotly validates their output instead, on ordinary and edge-case data.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import plotly.graph_objects as go
import plotly.io
import pytest

from dashboard.common.figure_spec import SUBPLOT_DEFAULTS, Figure, template
from dashboard.executive.figures.breakdown import breakdown_figure
from dashboard.executive.figures.sparkline import sparkline
from dashboard.executive.figures.trend import references, trend_figure
from models.enums import Granularity, OrgLevel
from models.queries.executive.numbers import BreakdownRow, KpiSeries, SeriesPoint
from models.queries.scope import Unit

T0 = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
ACME = Unit(1, "acme", "ACME", OrgLevel.COMPANY, None, "1")


def series(start: dt.datetime, values: list[float | None]) -> KpiSeries:
    points = tuple(
        SeriesPoint(start + i * HOUR, start + (i + 1) * HOUR, v) for i, v in enumerate(values)
    )
    return KpiSeries("revenue", ACME, Granularity.HOUR, points, ("rollup_1h",))


def child(n: int, value: float | None) -> BreakdownRow:
    return BreakdownRow(Unit(n, f"u{n}", f"Unit {n}", OrgLevel.REGION, 1, f"1.{n}"), value)


FIGURES: dict[str, Figure] = {
    "sparkline": sparkline([T0, T0 + HOUR, T0 + 2 * HOUR], [1.0, None, 3.5]),
    "sparkline, empty": sparkline([], []),
    "trend": trend_figure(
        series(T0, [float(i) if i % 7 else None for i in range(168)]),
        series(T0 - 168 * HOUR, [2.0] * 168),
        title="Revenue over time",
        unit="EUR",
        lines=references(500.0, 400.0, 300.0, scale=1 / 24),
        uirevision="0123456789abcdef",
    ),
    "trend, no previous": trend_figure(series(T0, [1.0, 2.0]), None, title="Orders"),
    "trend, empty": trend_figure(series(T0, []), series(T0, []), title="Orders"),
    "breakdown": breakdown_figure(
        (child(2, 300.0), child(3, None), child(4, -5.0)), title="Revenue by unit", unit="EUR"
    ),
    "breakdown, one unit without data": breakdown_figure((child(2, None),), title="X"),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_plotly_validates_the_figure_and_takes_its_traces_unchanged(name: str) -> None:
    figure = FIGURES[name]
    checked = go.Figure(figure)  # raises ValueError on any unknown or invalid property
    assert checked.to_plotly_json()["data"] == figure["data"]
    layout: dict[str, Any] = checked.to_plotly_json()["layout"]
    for key, value in figure["layout"].items():
        if key != "template":
            assert layout[key] == value, key


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_the_figure_is_plain_json(name: str) -> None:
    # No datetimes or plotly objects: the standard encoder needs no help, and reads it back.
    figure = FIGURES[name]
    assert json.loads(json.dumps(figure, allow_nan=False)) == figure


@pytest.mark.parametrize(
    ("name", "kinds"), [("plotly_white", ("scatter",)), ("plotly_white", ("bar",))]
)
def test_a_template_is_plotlys_own_for_the_traces_drawn(name: str, kinds: tuple[str, ...]) -> None:
    full = plotly.io.templates[name].to_plotly_json()
    made = template(name, kinds)
    assert made["data"] == {kind: full["data"][kind] for kind in kinds}
    dropped = set(full["layout"]) - set(made["layout"])
    assert dropped <= SUBPLOT_DEFAULTS  # only styles of subplot kinds these figures never draw
    assert all(made["layout"][key] == full["layout"][key] for key in made["layout"])
    # plotly.py accepts it as a template and styles the figure's axes with it.
    styled = go.Figure({"data": [{"type": kinds[0]}], "layout": {"template": made}})
    assert styled.layout.template.layout.plot_bgcolor == full["layout"]["plot_bgcolor"]


def test_trends_and_bars_carry_their_template_and_tiles_none() -> None:
    trend_layout = FIGURES["trend"]["layout"]
    assert trend_layout["template"] is template("plotly_white", ("scatter",))
    assert FIGURES["breakdown"]["layout"]["template"] is template("plotly_white", ("bar",))
    assert "template" not in FIGURES["sparkline"]["layout"]
