"""The KPIs page (admin console): every KPI owned by a unit in the admin's scope, and a link to
the new-KPI form.

Needs ``catalog:manage``; editing a KPI (its formula above all) is on its own page
(``dashboard/admin/pages/kpi.py``), which keeps each change of definition as a version.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboard.admin.kpi_forms import ADMIN_KPIS_PATH, LIST_IDS, admin_kpi_href, kpis_table
from dashboard.admin.kpi_params import NEW
from dashboard.auth.policy import (
    CallContext,
    current_principal,
    current_services,
    guarded_callback,
    read_connection,
)
from dashboard.common.look import refusal
from models.permissions import AccessDenied, Permission
from models.queries.admin.kpis import admin_kpis

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=ADMIN_KPIS_PATH,
    name="KPIs",
    title="Northstar · KPIs",
    permission=Permission.CATALOG_MANAGE.value,
    nav_group="Admin",
    order=62,
)

PAGE = "admin-kpis"
MANAGE = Permission.CATALOG_MANAGE
IDS = LIST_IDS


def layout(**_query: Any) -> html.Div:
    """The list (read by the guarded callback) and the way to a new KPI."""
    try:
        current_principal().require(MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return html.Div(
        [
            html.H1("KPIs", className="h3"),
            html.P(
                "The KPIs owned by units in your scope. Open one to change its formula, unit, "
                "format, direction, owner, steward or default target levels; every change of "
                "its definition is kept as a version.",
                className="text-muted small",
            ),
            dcc.Link("New KPI →", href=admin_kpi_href(NEW), className="d-block mb-2"),
            dcc.Store(id=IDS["refresh"], data=0),
            dcc.Loading(html.Div(id=IDS["list"], className="mb-3"), type="dot", delay_show=300),
        ]
    )


@dash.callback(Output(IDS["list"], "children"), Input(IDS["refresh"], "data"))
@guarded_callback(page=PAGE, permission=MANAGE)
def admin_kpis_view(call: CallContext, _refresh: object) -> Any:
    """The KPIs in scope with their current version."""
    limit = current_services().settings.query_row_limit
    with read_connection() as connection:
        rows = admin_kpis(connection, call.principal, limit=limit)
    call.rows = len(rows)
    return kpis_table(rows)
