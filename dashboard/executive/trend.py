"""The trend card: granularity choice and the trend chart (pure layout builders)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.executive.summary import AUTO
from models.enums import Granularity

GRANULARITY_OPTIONS = [
    {"label": "Automatic", "value": AUTO},
    {"label": "Minute", "value": Granularity.MINUTE.value},
    {"label": "Hour", "value": Granularity.HOUR.value},
    {"label": "Day", "value": Granularity.DAY.value},
]


def granularity_selector(component_id: str, value: str = AUTO) -> dbc.RadioItems:
    """Automatic (from the period) or a fixed bucket size, as inline buttons."""
    return dbc.RadioItems(
        id=component_id,
        options=GRANULARITY_OPTIONS,
        value=value,
        inline=True,
        className="mb-2",
    )


def trend_note(granularity: Granularity, automatic: bool) -> str:
    """The line under the chart: which bucket size it shows and why."""
    how = "chosen automatically from the period" if automatic else "as chosen"
    return (
        f"One point per {granularity.value} ({how}); the dashed line is the previous period, "
        "shifted onto this one."
    )


def trend_card(graph_id: str, note_id: str) -> dbc.Card:
    """The chart and its note, empty: the page's callback fills (or patches) them, so a live
    refresh can send the figure's new data without its layout."""
    return dbc.Card(
        dbc.CardBody(
            [
                dcc.Graph(id=graph_id, config={"displaylogo": False}, className="kpi-trend"),
                html.Small(id=note_id, className="text-muted"),
            ]
        ),
        className="mb-3",
    )
