"""Drill-down: links between levels, the breadcrumb to the scope root, the breakdown table."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.figure_spec import Figure
from dashboard.executive.summary import format_value, percent_change
from models.enums import OrgLevel
from models.queries.executive.numbers import BreakdownRow
from models.queries.scope import Unit


def kpi_href(kpi_key: str, unit_key: str, period: str) -> str:
    """The KPI page of ``kpi_key`` for a unit and period (keys are URL-quoted)."""
    return f"/kpi/{quote(kpi_key, safe='')}?{urlencode({'unit': unit_key, 'period': period})}"


def events_href(kpi_key: str, unit_key: str, period: str) -> str:
    """The events page behind a KPI, unit and period."""
    return "/events?" + urlencode({"kpi": kpi_key, "unit": unit_key, "period": period})


def breadcrumb(trail: Sequence[Unit], kpi_key: str, period: str) -> dbc.Breadcrumb:
    """Links from the scope root down to the last unit of ``trail`` (the current one)."""
    items = [
        {"label": unit.name, "href": kpi_href(kpi_key, unit.key, period), "external_link": False}
        for unit in trail[:-1]
    ]
    if trail:
        items.append({"label": trail[-1].name, "active": True})
    return dbc.Breadcrumb(items=items, className="mb-2")


def _change_text(value: float | None, previous: float | None) -> str:
    change = percent_change(value, previous)
    return "—" if change is None else f"{change:+.1f} %"


def breakdown_table(
    rows: Sequence[BreakdownRow],
    previous: dict[int, float | None],
    *,
    kpi_key: str,
    period: str,
    fmt: str,
    unit: str,
    levels: Sequence[OrgLevel],
) -> dbc.Table | html.P:
    """One row per child: a link one level down (where the KPI is shown at that level),
    the value, the change on the previous period and a link to its events."""
    if not rows:
        return html.P("This unit has no child units in your scope.", className="text-muted")
    body = []
    for row in rows:
        name: html.Span | dcc.Link = (
            dcc.Link(row.unit.name, href=kpi_href(kpi_key, row.unit.key, period))
            if row.unit.level in levels
            else html.Span(row.unit.name)
        )
        body.append(
            html.Tr(
                [
                    html.Td(name),
                    html.Td(format_value(row.value, fmt, unit), className="text-end"),
                    html.Td(
                        _change_text(row.value, previous.get(row.unit.id)), className="text-end"
                    ),
                    html.Td(dcc.Link("Events", href=events_href(kpi_key, row.unit.key, period))),
                ]
            )
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th("Unit"),
                html.Th("Value", className="text-end"),
                html.Th("Change", className="text-end"),
                html.Th(""),
            ]
        )
    )
    return dbc.Table([head, html.Tbody(body)], hover=True, size="sm", className="mb-0")


def breakdown_card(figure: Figure | None, table: dbc.Table | html.P, graph_id: str) -> dbc.Card:
    """The chart above the table; clicking a unit's name opens it one level down."""
    children: list[object] = []
    if figure is not None:
        children.append(dcc.Graph(id=graph_id, figure=figure, config={"displaylogo": False}))
    children.append(table)
    return dbc.Card(
        [dbc.CardHeader("By unit"), dbc.CardBody(children)],
        className="mb-3",
    )
