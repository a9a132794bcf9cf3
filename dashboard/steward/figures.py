"""Data-quality figures: an incident's evidence (its check's results over time) and a source's
volume per 15-minute window against the band the checks expect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dashboard.common.figure_spec import Figure, Trace, iso_times, template
from models.quality.tables import CheckKey, DqState
from models.queries.steward.dq_health import VolumePoint
from models.queries.steward.incidents import ResultView

TEMPLATE = "plotly_white"
LINE_COLOR = "#6c757d"
RECEIVED_COLOR = "#0d6efd"
EXPECTED_COLOR = "#198754"
BAND_FILL = "rgba(25, 135, 84, 0.12)"
THRESHOLD_COLOR = "#dc3545"
OUTSIDE_COLOR = "#dc3545"
MARK_COLOR = "#212529"

STATE_MARKERS = {
    DqState.OK: ("OK", "circle", "#198754"),
    DqState.WARNING: ("Warning", "triangle-up", "#fd7e14"),
    DqState.FAILING: ("Failing", "square", "#dc3545"),
}
"""Name, marker symbol and colour per state: the shape tells the state without colour."""

VALUE_LABELS = {
    CheckKey.FRESHNESS: ("Age of the newest event (s)", "Freshness SLA"),
    CheckKey.COMPLETENESS: ("Records in the window", "Fewest records accepted"),
    CheckKey.VALIDITY: ("Share of records rejected", "Failing share"),
    CheckKey.VOLUME_ANOMALY: ("Robust z-score of the volume", "Failing |z|"),
    CheckKey.REFERENTIAL_INTEGRITY: ("Records with unknown references", "Failing count"),
    CheckKey.SCHEMA_DRIFT: ("Drift events", "Allowed"),
    CheckKey.RECONCILIATION: ("Windows that differ", "Allowed"),
}
"""The y axis and threshold line of each check (what ``dq_results.value`` measures)."""


def _layout(title: str, y_title: str, height: int = 340) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0},
        "margin": {"l": 56, "r": 16, "t": 48, "b": 32},
        "legend": {"orientation": "h", "y": -0.18},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": y_title}},
        "hovermode": "closest",
        "template": template(TEMPLATE, ("scatter",)),
        "height": height,
    }


def _marker(at: dt.datetime, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A vertical line at ``at`` labelled ``name`` (a shape and its annotation)."""
    x = at.isoformat()
    shape = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": MARK_COLOR, "width": 1, "dash": "dot"},
    }
    note = {
        "x": x,
        "xref": "x",
        "y": 1,
        "yref": "paper",
        "text": name,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "bottom",
    }
    return shape, note


def _state_trace(state: DqState, results: Sequence[ResultView]) -> Trace:
    name, symbol, color = STATE_MARKERS[state]
    chosen = [r for r in results if r.state is state and r.value is not None]
    return {
        "type": "scatter",
        "x": iso_times(r.window_start for r in chosen),
        "y": [r.value for r in chosen],
        "name": name,
        "mode": "markers",
        "marker": {"symbol": symbol, "color": color, "size": 9},
        "text": [r.summary for r in chosen],
        "hovertemplate": "%{x}<br>%{y}<br>%{text}<extra>" + name + "</extra>",
    }


def _threshold_traces(check: CheckKey, results: Sequence[ResultView]) -> list[Trace]:
    pairs = [(r.window_start, r.threshold) for r in results if r.threshold is not None]
    if not pairs:
        return []
    name = VALUE_LABELS[check][1]
    xs = iso_times(at for at, _ in pairs)
    values = [value for _, value in pairs]
    signs = (1.0, -1.0) if check is CheckKey.VOLUME_ANOMALY else (1.0,)
    return [
        {
            "type": "scatter",
            "x": xs,
            "y": [sign * v for v in values],
            "name": name if sign > 0 else f"-{name}",
            "mode": "lines",
            "line": {"color": THRESHOLD_COLOR, "width": 1, "dash": "dash", "shape": "hv"},
            "hoverinfo": "name+y",
            "showlegend": sign > 0,
        }
        for sign in signs
    ]


def evidence_figure(
    check: CheckKey,
    results: Sequence[ResultView],
    *,
    title: str,
    opened_at: dt.datetime | None = None,
    resolved_at: dt.datetime | None = None,
) -> Figure:
    """The check's value per window as a line, each result marked by state (shape and colour),
    the threshold as a dashed step line, and the incident's opening and resolution marked.

    Results without a value (e.g. freshness with no event at all) are gaps; their summaries
    are listed in the hover of the states that have one.
    """
    y_title = VALUE_LABELS[check][0]
    data: list[Trace] = []
    if results:
        data.append(
            {
                "type": "scatter",
                "x": iso_times(r.window_start for r in results),
                "y": [r.value for r in results],
                "name": y_title,
                "mode": "lines",
                "line": {"color": LINE_COLOR, "width": 1.5},
                "connectgaps": False,
                "hoverinfo": "skip",
            }
        )
        data.extend(_threshold_traces(check, results))
        data.extend(_state_trace(state, results) for state in STATE_MARKERS)
    layout = _layout(title, y_title)
    shapes, notes = [], []
    for at, name in ((opened_at, "opened"), (resolved_at, "resolved")):
        if at is not None:
            shape, note = _marker(at, name)
            shapes.append(shape)
            notes.append(note)
    if results and all(r.value is None for r in results):
        notes.append(_centre_note(f"No measured value: {results[-1].summary}"))
    elif not results:
        notes.append(_centre_note("No check results in this incident's time range."))
    layout["shapes"] = shapes
    layout["annotations"] = notes
    return {"data": data, "layout": layout}


def _centre_note(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.5,
        "y": 0.5,
        "showarrow": False,
    }


def volume_figure(points: Sequence[VolumePoint], *, title: str) -> Figure:
    """Records received per window, the expected volume (dashed), the band the checks accept
    (shaded; only a lower limit for a declared volume) and the windows outside it (crosses)."""
    xs = iso_times(p.window.start for p in points)
    data: list[Trace] = []
    if any(p.high is not None for p in points):
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": [p.high for p in points],
                "name": "Expected band",
                "mode": "lines",
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": False,
                "connectgaps": False,
            }
        )
    if any(p.low is not None for p in points):
        banded = any(p.high is not None for p in points)
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": [p.low for p in points],
                "name": "Expected band" if banded else "Fewest records accepted",
                "mode": "lines",
                "line": {"width": 0} if banded else {"color": THRESHOLD_COLOR, "dash": "dash"},
                "fill": "tonexty" if banded else "none",
                "fillcolor": BAND_FILL,
                "connectgaps": False,
                "hoverinfo": "skip" if banded else "name+y",
            }
        )
    if any(p.expected is not None for p in points):
        data.append(
            {
                "type": "scatter",
                "x": xs,
                "y": [p.expected for p in points],
                "name": "Expected",
                "mode": "lines",
                "line": {"color": EXPECTED_COLOR, "width": 1.5, "dash": "dash"},
                "connectgaps": False,
            }
        )
    data.append(
        {
            "type": "scatter",
            "x": xs,
            "y": [p.received for p in points],
            "name": "Records received",
            "mode": "lines",
            "line": {"color": RECEIVED_COLOR, "width": 2},
        }
    )
    outside = [p for p in points if is_outside(p)]
    data.append(
        {
            "type": "scatter",
            "x": iso_times(p.window.start for p in outside),
            "y": [p.received for p in outside],
            "name": "Outside the band",
            "mode": "markers",
            "marker": {"symbol": "x", "color": OUTSIDE_COLOR, "size": 9},
        }
    )
    layout = _layout(title, "Records per 15 minutes")
    layout["yaxis"]["rangemode"] = "tozero"
    layout["hovermode"] = "x unified"
    if not points:
        layout["annotations"] = [_centre_note("No windows in this range.")]
    return {"data": data, "layout": layout}


def is_outside(point: VolumePoint) -> bool:
    """True when the window's records fall below the band's low or above its high."""
    if point.low is not None and point.received < point.low:
        return True
    return point.high is not None and point.received > point.high
