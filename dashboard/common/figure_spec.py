"""Plotly figures as plain JSON-ready dicts, the form Dash sends to the browser.

Building ``plotly.graph_objects`` figures validates and deep-copies every property on every
call (several milliseconds a figure); a page answer needs only the JSON. The builders of this
package therefore write the figure dict directly: only JSON types (timestamps as ISO strings),
and a named template expanded from plotly's own definition, since Plotly.js knows no template
names. ``tests/unit/executive/test_figures.py`` checks every builder's output with
``plotly.graph_objects.Figure``, so validation happens in the tests, not at run time.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any, TypedDict

import plotly.io

Trace = dict[str, Any]
"""One trace: ``{"type": "scatter", "x": [...], ...}``, Plotly.js's own property names."""

SUBPLOT_DEFAULTS = frozenset({"geo", "map", "mapbox", "polar", "scene", "smith", "ternary"})
"""Template layout parts that style only subplots of those kinds (none drawn here)."""


class Figure(TypedDict):
    """A figure as ``dcc.Graph(figure=...)`` takes it and Plotly.js draws it."""

    data: list[Trace]
    layout: dict[str, Any]


def iso_times(moments: Iterable[dt.datetime]) -> list[str]:
    """Timestamps as plotly.py would write them (``datetime.isoformat``)."""
    return [moment.isoformat() for moment in moments]


@functools.cache
def template(name: str, trace_types: tuple[str, ...]) -> dict[str, Any]:
    """plotly.py's template ``name`` as JSON, for a figure with only ``trace_types`` traces.

    Plotly.js applies ``template.data[type]`` to traces of that type only, and the subplot
    parts of ``template.layout`` to subplots of that kind only, so dropping the others draws
    the same figure with a quarter of the bytes. Made once per process (~60 ms) and shared by every
    figure: never modify the answer.
    """
    full: dict[str, Any] = plotly.io.templates[name].to_plotly_json()
    data = full.get("data", {})
    layout = full.get("layout", {})
    return {
        "data": {kind: data[kind] for kind in trace_types if kind in data},
        "layout": {key: value for key, value in layout.items() if key not in SUBPLOT_DEFAULTS},
    }
