"""A small line without axes for KPI tiles: the shape of a series, not its numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import plotly.graph_objects as go

LINE_COLOR = "#0d6efd"
HEIGHT_PX = 48


def sparkline(
    times: Sequence[dt.datetime], values: Sequence[float | None], *, color: str = LINE_COLOR
) -> go.Figure:
    """A line of ``values`` over ``times``; gaps (None) stay gaps. Static: no hover or zoom."""
    figure = go.Figure(
        go.Scatter(
            x=list(times),
            y=list(values),
            mode="lines",
            line={"color": color, "width": 2},
            fill="tozeroy",
            fillcolor="rgba(13, 110, 253, 0.08)",
            hoverinfo="skip",
            connectgaps=False,
        )
    )
    figure.update_layout(
        # No template: the default one adds ~10 kB of JSON per figure, and a tile needs none.
        template="none",
        height=HEIGHT_PX,
        margin={"l": 0, "r": 0, "t": 2, "b": 2},
        xaxis={"visible": False, "fixedrange": True},
        yaxis={"visible": False, "fixedrange": True},
        showlegend=False,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
