"""KPI tiles: value, change, sparkline, status against target and the data-quality badge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.executive.figures.sparkline import sparkline
from models.enums import Direction
from models.judging import Judgement, Status
from models.queries.steward.quality import Badge, QualityLevel

NO_VALUE = "—"
HIDDEN: dict[str, Any] = {"aria-hidden": "true"}
"""Keeps an icon that repeats the text away from screen readers."""


# Text, icon and colour: the status reads without colour (docs/dashboard.md, Overview).
STATUS_LOOK = {
    Status.ON_TARGET: ("✔", "success"),
    Status.WARNING: ("⚠", "warning"),
    Status.CRITICAL: ("✖", "danger"),
    Status.NO_TARGET: ("○", "secondary"),
    Status.NO_DATA: ("○", "secondary"),
}
QUALITY_LOOK = {
    QualityLevel.OK: ("●", "success", "Data OK"),
    QualityLevel.WARNING: ("▲", "warning", "Data warning"),
    QualityLevel.FAILING: ("■", "danger", "Data failing"),
}


@dataclass(frozen=True, slots=True)
class Change:
    """The change against the previous period; ``good`` is None when neither up nor down."""

    arrow: str
    text: str
    good: bool | None


@dataclass(frozen=True, slots=True)
class TileData:
    """Everything one tile shows, already computed."""

    key: str
    name: str
    value: float | None
    previous: float | None
    unit: str
    format: str
    direction: Direction
    judgement: Judgement
    """The status against the unit's own target for the period (``models.judging.judge``)."""
    times: tuple[dt.datetime, ...]
    values: tuple[float | None, ...]
    badge: Badge
    href: str

    @property
    def status(self) -> Status:
        return self.judgement.status


def format_value(value: float | None, fmt: str, unit: str) -> str:
    """``value`` in the KPI's format spec (e.g. ``,.0f``) followed by its unit."""
    if value is None:
        return NO_VALUE
    try:
        shown = format(value, fmt)
    except ValueError:
        shown = f"{value:,.2f}"
    return f"{shown} {unit}".strip()


def change(value: float | None, previous: float | None, direction: Direction) -> Change:
    """Arrow and percentage against the previous period, and whether that is good news."""
    if value is None or previous is None:
        return Change("", "no comparison", None)
    diff = value - previous
    if diff == 0:
        return Change("▶", "no change", None)
    arrow = "▲" if diff > 0 else "▼"
    good = (diff > 0) == (direction is Direction.HIGHER_IS_BETTER)
    if previous == 0:
        return Change(arrow, "new", good)
    return Change(arrow, f"{diff / abs(previous):+.1%}".replace("%", " %"), good)


def kpi_href(kpi_key: str, unit_key: str, period_key: str) -> str:
    """The KPI page of this KPI, unit and period."""
    query = urlencode({"unit": unit_key, "period": period_key})
    return f"/kpi/{quote(kpi_key, safe='')}?{query}"


def _aria_label(text: str) -> dict[str, Any]:
    return {"aria-label": text}


def status_line(status: Status) -> html.Span:
    icon, color = STATUS_LOOK[status]
    return html.Span(
        [html.Span(icon, **HIDDEN), f" {status.value.capitalize()}"],
        className=f"badge text-bg-{color} tile-status",
    )


def target_line(judgement: Judgement, fmt: str, unit: str) -> html.Div:
    """Which target the status was judged against and where it comes from, or why there is
    none: e.g. "Target 12,400 EUR (EMEA's own monthly plan, pro-rated)"."""
    if judgement.target is None:
        text = f"No target: {judgement.explanation}"
    else:
        text = f"Target {format_value(judgement.target, fmt, unit)} ({judgement.explanation})"
    return html.Div(text, className="text-secondary small tile-target")


def quality_badge(badge: Badge, tile_key: str) -> html.Span:
    """The badge with its reason in a tooltip on hover, focus or tap, and for screen readers.

    It sits above the tile's stretched link, so tapping it shows the reason instead of
    opening the KPI page.
    """
    icon, color, label = QUALITY_LOOK[badge.level]
    badge_id = f"quality-{tile_key}"
    return html.Span(
        [
            html.Span(
                [html.Span(icon, **HIDDEN), f" {label}"],
                id=badge_id,
                tabIndex=0,
                role="note",
                className=f"badge rounded-pill text-bg-{color} tile-quality",
                style={"position": "relative", "zIndex": 2, "cursor": "help"},
                **_aria_label(f"{label}: {badge.reason}"),
            ),
            dbc.Tooltip(badge.reason, target=badge_id, placement="bottom", trigger="hover focus"),
        ]
    )


def change_line(moved: Change) -> html.Div:
    color = {True: "text-success", False: "text-danger", None: "text-secondary"}[moved.good]
    return html.Div(
        [
            html.Span(f"{moved.arrow} {moved.text}".strip(), className=f"fw-semibold {color}"),
            html.Span(" vs previous period", className="text-secondary small"),
        ],
        className="tile-change",
    )


def tile(data: TileData) -> dbc.Card:
    """One KPI tile, linking to the KPI's page."""
    moved = change(data.value, data.previous, data.direction)
    graph = dcc.Graph(
        figure=sparkline(data.times, data.values),
        config={"displayModeBar": False, "staticPlot": True},
        style={"height": "48px"},
        className="tile-sparkline",
    )
    header = html.Div(
        [
            html.H2(
                dcc.Link(data.name, href=data.href, className="stretched-link text-reset"),
                className="h6 mb-0",
            ),
            quality_badge(data.badge, data.key),
        ],
        className="d-flex justify-content-between align-items-start gap-2",
    )
    body = [
        header,
        html.Div(format_value(data.value, data.format, data.unit), className="fs-3 fw-bold"),
        change_line(moved),
        graph,
        status_line(data.status),
        target_line(data.judgement, data.format, data.unit),
    ]
    return dbc.Card(dbc.CardBody(body), className="h-100 shadow-sm kpi-tile", id=f"tile-{data.key}")


def tile_grid(tiles: Sequence[TileData]) -> html.Div:
    """A responsive grid: 1 tile a row on phones, 2 on tablets, 3 on laptops, 4 on wide screens."""
    if not tiles:
        return html.Div(
            "No KPIs are defined for this level of the organisation.",
            className="alert alert-info mb-0",
        )
    row = dbc.Row([dbc.Col(tile(t), xs=12, md=6, lg=4, xxl=3) for t in tiles], className="g-3")
    return html.Div(row)
