"""A small line without axes for KPI tiles: the shape of a series, not its numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dashboard.common.figure_spec import Figure, iso_times

LINE_COLOR = "#0d6efd"
FILL_COLOR = "rgba(13, 110, 253, 0.08)"
HEIGHT_PX = 48
TRANSPARENT = "rgba(0,0,0,0)"


def sparkline(
    times: Sequence[dt.datetime], values: Sequence[float | None], *, color: str = LINE_COLOR
) -> Figure:
    """A line of ``values`` over ``times``; gaps (None) stay gaps. Static: no hover or zoom."""
    return {
        "data": [
            {
                "type": "scatter",
                "x": iso_times(times),
                "y": list(values),
                "mode": "lines",
                "line": {"color": color, "width": 2},
                "fill": "tozeroy",
                "fillcolor": FILL_COLOR,
                "hoverinfo": "skip",
                "connectgaps": False,
            }
        ],
        # No template (Plotly.js's defaults, plotly.py's "none"): a tile needs none, and the
        # default one would add kilobytes of JSON per tile.
        "layout": {
            "height": HEIGHT_PX,
            "margin": {"l": 0, "r": 0, "t": 2, "b": 2},
            "xaxis": {"visible": False, "fixedrange": True},
            "yaxis": {"visible": False, "fixedrange": True},
            "showlegend": False,
            "paper_bgcolor": TRANSPARENT,
            "plot_bgcolor": TRANSPARENT,
        },
    }
