"""The KPI by child unit as a horizontal bar chart; each bar carries its unit's key."""

from __future__ import annotations

from dashboard.common.figure_spec import Figure, template
from models.queries.executive.numbers import BreakdownRow

BAR_COLOR = "#0d6efd"
TEMPLATE = "plotly_white"


def breakdown_figure(rows: tuple[BreakdownRow, ...], *, title: str, unit: str = "") -> Figure:
    """One bar per child unit, largest at the top; units without a value show no bar
    (listed at the bottom).

    ``customdata`` holds the unit keys so a click can open that unit.
    """
    ordered = sorted(rows, key=lambda r: (r.value is not None, r.value or 0.0))
    return {
        "data": [
            {
                "type": "bar",
                "x": [r.value for r in ordered],
                "y": [r.unit.name for r in ordered],
                "customdata": [r.unit.key for r in ordered],
                "orientation": "h",
                "marker": {"color": BAR_COLOR},
                "hovertemplate": "%{y}: %{x}<extra></extra>",
            }
        ],
        "layout": {
            "title": {"text": title, "x": 0},
            "margin": {"l": 120, "r": 16, "t": 48, "b": 32},
            "xaxis": {"title": {"text": unit}},
            "template": template(TEMPLATE, ("bar",)),
            "height": max(200, 60 + 28 * len(rows)),
        },
    }
