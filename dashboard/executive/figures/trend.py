"""The KPI trend: the period's series, the previous period dashed, target and thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.common.figure_spec import Figure, Trace, iso_times, template
from models.queries.executive.numbers import KpiSeries

CURRENT_NAME = "This period"
PREVIOUS_NAME = "Previous period"
CURRENT_COLOR = "#0d6efd"
PREVIOUS_COLOR = "#6c757d"
TARGET_COLOR = "#198754"
WARN_COLOR = "#fd7e14"
CRIT_COLOR = "#dc3545"
TEMPLATE = "plotly_white"
MARKERS_UP_TO = 60
"""Points are marked while there are at most this many; beyond, only the line is drawn."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A horizontal line: a target or a threshold."""

    name: str
    value: float
    color: str
    dash: str


def references(
    target: float | None,
    warn: float | None,
    crit: float | None,
    *,
    scale: float | None = None,
) -> tuple[Reference, ...]:
    """The target and threshold lines that are set, in that order.

    Args:
        scale: for additive KPIs (sums, counts), whose target is for the whole period, the
            bucket's share of the period (1/24 for hours of a day): the lines are then drawn
            per bucket and say so.
    """
    lines = [
        ("Target", target, TARGET_COLOR, "dot"),
        ("Warning", warn, WARN_COLOR, "dashdot"),
        ("Critical", crit, CRIT_COLOR, "dashdot"),
    ]
    suffix = " (per bucket)" if scale is not None else ""
    factor = scale if scale is not None else 1.0
    return tuple(Reference(n + suffix, v * factor, c, d) for n, v, c, d in lines if v is not None)


def trend_figure(
    current: KpiSeries,
    previous: KpiSeries | None,
    *,
    title: str,
    unit: str = "",
    lines: tuple[Reference, ...] = (),
    uirevision: str | None = None,
) -> Figure:
    """A line per period on the current period's time axis (the previous one shifted onto it).

    Buckets without a value are gaps, never zeros. Reference lines span the whole period and
    are labelled by name, so they read without colour. While ``uirevision`` stays the same,
    Plotly keeps the user's zoom and hidden traces when new data arrives.
    """
    xs = iso_times(p.start for p in current.points)
    data: list[Trace] = [
        {
            "type": "scatter",
            "x": xs,
            "y": [p.value for p in current.points],
            "name": CURRENT_NAME,
            "mode": "lines+markers" if len(xs) <= MARKERS_UP_TO else "lines",
            "line": {"color": CURRENT_COLOR, "width": 2},
            "connectgaps": False,
        }
    ]
    if previous is not None and previous.points and current.points:
        data.append(_previous_trace(current, previous))
    if xs:
        span = [xs[0], current.points[-1].end.isoformat()]
        data.extend(_reference_trace(line, span) for line in lines)
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0},
        "margin": {"l": 48, "r": 16, "t": 48, "b": 32},
        "legend": {"orientation": "h", "y": -0.15},
        "yaxis": {"title": {"text": unit}, "rangemode": "tozero"},
        "hovermode": "x unified",
        "template": template(TEMPLATE, ("scatter",)),
        "height": 360,
    }
    if uirevision is not None:
        layout["uirevision"] = uirevision
    return {"data": data, "layout": layout}


def _previous_trace(current: KpiSeries, previous: KpiSeries) -> Trace:
    """The previous period dashed, shifted onto the current one; hover says when it was."""
    shift = current.points[0].start - previous.points[0].start
    return {
        "type": "scatter",
        "x": iso_times(p.start + shift for p in previous.points),
        "y": [p.value for p in previous.points],
        "name": PREVIOUS_NAME,
        "mode": "lines",
        "line": {"color": PREVIOUS_COLOR, "width": 1.5, "dash": "dash"},
        "connectgaps": False,
        "customdata": iso_times(p.start for p in previous.points),
        "hovertemplate": "%{customdata}<br>%{y}<extra>" + PREVIOUS_NAME + "</extra>",
    }


def _reference_trace(line: Reference, span: list[str]) -> Trace:
    return {
        "type": "scatter",
        "x": span,
        "y": [line.value, line.value],
        "name": line.name,
        "mode": "lines",
        "line": {"color": line.color, "width": 1, "dash": line.dash},
        "hoverinfo": "name+y",
    }
