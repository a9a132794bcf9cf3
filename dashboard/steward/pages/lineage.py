"""Lineage (steward console): every source in scope → its metrics → the KPIs reading them →
the pages showing those KPIs, with each source's and KPI's data-quality badge."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboard.auth.policy import (
    CallContext,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
)
from dashboard.common.look import LINEAGE_PATH, refusal
from dashboard.steward.lineage import lineage_view
from models.permissions import AccessDenied, Permission
from models.queries.steward.console import lineage_map
from models.queries.steward.lineage import sources_by_kpi
from models.queries.steward.quality import kpi_badges, source_badges

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=LINEAGE_PATH,
    name="Lineage",
    title="Northstar · Lineage",
    permission=Permission.INCIDENT_MANAGE.value,
    nav_group="Steward",
    order=12,
)

PAGE = "steward-lineage"
VIEW_ID = "lineage-view"
REFRESH_ID = "lineage-refresh"
REFRESH_MS = 60_000


def layout(**_query: Any) -> html.Div:
    try:
        current_principal().require(Permission.INCIDENT_MANAGE, Permission.KPI_VIEW)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return html.Div(
        [
            html.H1("Lineage", className="h3"),
            html.P(
                "Each source, the metrics it feeds, the KPIs whose formulas read them and the "
                "pages that show those KPIs. A KPI's badge is the worst of its sources'.",
                className="text-secondary",
            ),
            dcc.Interval(id=REFRESH_ID, interval=REFRESH_MS),
            dcc.Loading(html.Div(id=VIEW_ID), type="dot", delay_show=300),
        ]
    )


@dash.callback(Output(VIEW_ID, "children"), Input(REFRESH_ID, "n_intervals"))
@guarded_callback(page=PAGE, permission=Permission.INCIDENT_MANAGE, on_error=error_view)
def lineage_sources(call: CallContext, /, _refresh: object) -> html.Div:
    """The lineage of every source in scope (``_refresh`` only triggers)."""
    now = dt.datetime.now(dt.UTC)
    with read_connection() as connection:
        sources = lineage_map(connection, call.principal)
        badges = source_badges(connection, [s.id for s in sources], now)
        keys = {k.key for s in sources for k in s.kpis}
        kpi_sources = sources_by_kpi(connection, keys) if keys else {}
        by_kpi = kpi_badges(connection, kpi_sources, now)
    call.rows = len(sources)
    return lineage_view(sources, badges, by_kpi)
