"""Alert figures: the 30-day preview of a rule, a review's evidence, and the marks reviews
leave on a KPI's trend (pure: data in, figure dicts out)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dashboard.common.figure_spec import Figure, Trace, template

TEMPLATE = "plotly_white"
VALUE_COLOR = "#0d6efd"
FIRE_COLOR = "#dc3545"
CLEAR_COLOR = "#fd7e14"
OPEN_COLOR = "#dc3545"
DECIDED_COLOR = "#198754"
EMPTY: Figure = {"data": [], "layout": {}}


def _layout(title: str, y_title: str, height: int = 300) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0},
        "margin": {"l": 56, "r": 16, "t": 48, "b": 32},
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": y_title}},
        "hovermode": "closest",
        "template": template(TEMPLATE, ("scatter",)),
        "height": height,
    }


def _level(name: str, value: float, span: list[str], color: str) -> Trace:
    return {
        "type": "scatter",
        "x": span,
        "y": [value, value],
        "name": name,
        "mode": "lines",
        "line": {"color": color, "width": 1, "dash": "dash"},
        "hoverinfo": "name+y",
    }


def _fired_marks(times: Sequence[dt.datetime], ys: Mapping[str, float | None]) -> Trace:
    xs = [t.isoformat() for t in times]
    return {
        "type": "scatter",
        "x": xs,
        "y": [ys.get(x) for x in xs],
        "name": "Would have fired",
        "mode": "markers",
        "marker": {"color": FIRE_COLOR, "size": 10, "symbol": "x"},
    }


def preview_figure(
    judged: Sequence[tuple[dt.datetime, float | None]],
    fired_at: Sequence[dt.datetime],
    *,
    fire: float,
    clear: float,
    y_title: str,
) -> Figure:
    """The number the rule compares at each stored bucket, its levels, and an ✕ where it
    would have started firing."""
    xs = [at.isoformat() for at, _ in judged]
    ys = [value for _, value in judged]
    data: list[Trace] = [
        {
            "type": "scatter",
            "x": xs,
            "y": ys,
            "name": "Judged value",
            "mode": "lines",
            "line": {"color": VALUE_COLOR, "width": 1.5},
            "connectgaps": False,
        }
    ]
    if xs:
        span = [xs[0], xs[-1]]
        data.append(_level("Alert level", fire, span, FIRE_COLOR))
        if clear != fire:
            data.append(_level("Clear level", clear, span, CLEAR_COLOR))
        data.append(_fired_marks(fired_at, dict(zip(xs, ys, strict=True))))
    return {"data": data, "layout": _layout("The last 30 days, replayed", y_title)}


def evidence_figure(evidence: Mapping[str, Any], title: str) -> Figure:
    """A review's evidence: the KPI's series when the alert fired, the levels in the series'
    terms, and the moment it fired. Malformed evidence draws an empty chart."""
    series = evidence.get("series")
    points = (
        [p for p in series if isinstance(p, list) and len(p) == 2]
        if isinstance(series, list)
        else []
    )
    xs = [str(p[0]) for p in points]
    data: list[Trace] = [
        {
            "type": "scatter",
            "x": xs,
            "y": [p[1] for p in points],
            "name": str(evidence.get("kpi_name", "KPI")),
            "mode": "lines+markers" if len(xs) <= 60 else "lines",
            "line": {"color": VALUE_COLOR, "width": 2},
            "connectgaps": False,
        }
    ]
    lines = evidence.get("lines")
    if xs and isinstance(lines, list):
        for line in lines:
            if isinstance(line, dict) and isinstance(line.get("value"), int | float):
                data.append(
                    _level(
                        str(line.get("name", "")), float(line["value"]), [xs[0], xs[-1]], FIRE_COLOR
                    )
                )
    layout = _layout(title, str(evidence.get("kpi_unit", "")), height=340)
    at = evidence.get("at")
    if isinstance(at, str):
        shape, note = vertical(at, "Fired", FIRE_COLOR)
        layout["shapes"], layout["annotations"] = [shape], [note]
    return {"data": data, "layout": layout}


def vertical(x: str, text: str, color: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dotted vertical line at ``x`` (ISO time) and its label at the top."""
    shape = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": color, "width": 1, "dash": "dot"},
    }
    note = {
        "x": x,
        "xref": "x",
        "y": 1,
        "yref": "paper",
        "text": text,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "bottom",
        "font": {"size": 11, "color": color},
    }
    return shape, note


@dataclass(frozen=True, slots=True)
class ReviewMark:
    """A review on the KPI's trend: when, what it says, and whether it is still open."""

    id: int
    at: dt.datetime
    label: str
    open: bool


def with_review_marks(
    figure: Figure, marks: Sequence[ReviewMark], start: dt.datetime, end: dt.datetime
) -> Figure:
    """``figure`` with a labelled vertical line for each mark inside ``[start, end)``: red
    "Review open" where a review opened, green "Decided: …" where one was decided."""
    shapes, notes = [], []
    for mark in marks:
        if start <= mark.at < end:
            color = OPEN_COLOR if mark.open else DECIDED_COLOR
            shape, note = vertical(mark.at.isoformat(), mark.label, color)
            shapes.append(shape)
            notes.append(note)
    if not shapes:
        return figure
    layout = dict(figure["layout"])
    layout["shapes"] = [*layout.get("shapes", []), *shapes]
    layout["annotations"] = [*layout.get("annotations", []), *notes]
    return {"data": figure["data"], "layout": layout}
