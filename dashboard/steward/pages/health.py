"""Data health (steward console): sources x checks with each check's latest state, and a
source's volume per 15-minute window against the band the checks expect."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    current_services,
    error_view,
    guarded_callback,
    read_connection,
)
from dashboard.common import params
from dashboard.common.look import HEALTH_PATH, refusal
from dashboard.steward.figures import volume_figure
from dashboard.steward.health import (
    DEFAULT_SPAN,
    SPANS,
    health_table,
    volume_caption,
)
from models.permissions import AccessDenied, Permission
from models.quality.windows import WINDOW, floor_to
from models.queries.steward.console import incident_sources
from models.queries.steward.dq_health import NO_SOURCE, health_matrix, volume_band
from models.queries.steward.quality import source_badges

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=HEALTH_PATH,
    name="Data health",
    title="Northstar · Data health",
    permission=Permission.INCIDENT_MANAGE.value,
    nav_group="Steward",
    order=11,
)

PAGE = "steward-health"
MATRIX_ID = "health-matrix"
REFRESH_ID = "health-refresh"
SOURCE_ID = "health-source"
SPAN_ID = "health-span"
VOLUME_ID = "health-volume"
CAPTION_ID = "health-volume-caption"
REFRESH_MS = 60_000
EMPTY_FIGURE: dict[str, Any] = {"data": [], "layout": {}}


def layout(source: object = None, span: object = None, **_query: Any) -> html.Div:
    """The matrix (filled by a callback, refreshed every minute) and the volume chart's
    controls: the sources of the user's scope (``?source=<key>`` preselects one) and a span."""
    try:
        principal = current_principal()
        principal.require(Permission.INCIDENT_MANAGE, Permission.KPI_VIEW)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    with read_connection() as connection:
        sources = incident_sources(connection, principal)
    keys = [s.key for s in sources]
    return html.Div(
        [
            html.H1("Data health", className="h3"),
            dcc.Interval(id=REFRESH_ID, interval=REFRESH_MS),
            dcc.Loading(html.Div(id=MATRIX_ID), type="dot", delay_show=300),
            html.H2("Volume against the expected band", className="h5 mt-3"),
            dbc.Row(
                [
                    dbc.Col(
                        dcc.Dropdown(
                            id=SOURCE_ID,
                            options=[{"label": s.name, "value": s.key} for s in sources],
                            value=params.option(source, keys, keys[0] if keys else ""),
                            clearable=False,
                        ),
                        xs=12,
                        md=4,
                    ),
                    dbc.Col(
                        dbc.RadioItems(
                            id=SPAN_ID,
                            options=[{"label": v[0], "value": k} for k, v in SPANS.items()],
                            value=params.option(span, SPANS, DEFAULT_SPAN),
                            inline=True,
                        ),
                        xs=12,
                        md="auto",
                    ),
                ],
                class_name="g-2 align-items-center mb-2",
            ),
            dcc.Graph(id=VOLUME_ID, figure=EMPTY_FIGURE, config={"displaylogo": False}),
            html.P(id=CAPTION_ID, className="text-secondary small"),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dash.callback(Output(MATRIX_ID, "children"), Input(REFRESH_ID, "n_intervals"))
@guarded_callback(page=PAGE, permission=Permission.INCIDENT_MANAGE, on_error=error_view)
def health_view(call: CallContext, /, _refresh: object) -> html.Div:
    """Sources x checks of the user's scope with each source's badge (``_refresh`` only
    triggers)."""
    now = utc_now()
    with read_connection() as connection:
        sources = health_matrix(connection, call.principal)
        badges = source_badges(connection, [s.source_id for s in sources], now)
    call.rows = len(sources)
    return html.Div(
        [
            html.P(f"As of {now:%H:%M} UTC", className="text-secondary small mb-1"),
            health_table(sources, badges),
        ]
    )


def _volume_refused(error: UserFacingError) -> tuple[Any, Any]:
    return EMPTY_FIGURE, error_view(error)


@dash.callback(
    Output(VOLUME_ID, "figure"),
    Output(CAPTION_ID, "children"),
    Input(SOURCE_ID, "value"),
    Input(SPAN_ID, "value"),
)
@guarded_callback(page=PAGE, permission=Permission.INCIDENT_MANAGE, on_error=_volume_refused)
def volume_view(call: CallContext, /, source: object, span: object) -> tuple[Any, Any]:
    """The chosen source's volume (a key, untrusted) over the chosen span (a key)."""
    if source in (None, ""):
        return EMPTY_FIGURE, "No source to show."
    key = params.key(source, "source")
    if not isinstance(span, str) or span not in SPANS:
        raise ValueError("unknown span")
    label, length = SPANS[span]
    end = floor_to(utc_now(), WINDOW) + WINDOW
    with read_connection() as connection:
        found = next(
            (s for s in incident_sources(connection, call.principal) if s.key == key), None
        )
        if found is None:
            raise AccessDenied(NO_SOURCE)
        points = volume_band(
            connection, call.principal, found.id, end - length, end, current_services().settings
        )
    call.rows = len(points)
    call.detail = {"source": found.key, "span": span}
    figure = volume_figure(points, title=f"{found.name}: records per 15 minutes")
    return figure, volume_caption(found.name, label, points)
