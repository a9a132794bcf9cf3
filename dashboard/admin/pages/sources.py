"""The sources page (admin console): every source the admin manages, and a new source.

Needs ``source:manage``; an admin manages the sources whose owner unit lies in their scope
(docs/admin-sources.md). Creating a source is audited (``source.create``); it takes records
once it has a contract and an API key, both on its own page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboard.admin import source_params as ap
from dashboard.admin.source_edge import announce_change
from dashboard.admin.source_forms import (
    ADMIN_SOURCES_PATH,
    LIST_IDS,
    admin_source_href,
    alert,
    create_form,
    options,
    sources_table,
)
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    current_services,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common import params
from dashboard.common.look import refusal
from models.permissions import AccessDenied, Permission
from models.queries.admin.sources import admin_sources, steward_choices, unit_choices
from models.source_admin import create_source

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=ADMIN_SOURCES_PATH,
    name="Sources",
    title="Northstar · Sources",
    permission=Permission.SOURCE_MANAGE.value,
    nav_group="Admin",
    order=60,
)

PAGE = "admin-sources"
MANAGE = Permission.SOURCE_MANAGE
IDS = LIST_IDS


def layout(**_query: Any) -> html.Div:
    """The list and the form; the guarded callbacks read, check and write everything."""
    try:
        current_principal().require(MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return html.Div(
        [
            html.H1("Sources", className="h3"),
            html.P(
                "The sources owned by units in your scope. Open one to edit its SLA, expected "
                "volume, retention and steward, its contract and its API keys.",
                className="text-muted small",
            ),
            dcc.Loading(html.Div(id=IDS["list"], className="mb-3"), type="dot", delay_show=300),
            create_form(),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _list_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), [], []


@dash.callback(
    Output(IDS["list"], "children"),
    Output(IDS["owner"], "options"),
    Output(IDS["steward"], "options"),
    Input(IDS["created"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_list_refused)
def admin_sources_view(call: CallContext, _created: object) -> tuple[Any, ...]:
    """The sources in scope, and the owner units and stewards the form may choose."""
    limit = current_services().settings.query_row_limit
    with read_connection() as connection:
        rows = admin_sources(connection, call.principal, utc_now(), limit=limit)
        units = unit_choices(connection, call.principal)
        stewards = steward_choices(connection, call.principal)
    call.rows = len(rows)
    return sources_table(rows), options(units), options(stewards)


@dash.callback(
    Output(IDS["create-note"], "children"),
    Output(IDS["created"], "data"),
    Input(IDS["create"], "n_clicks"),
    State(IDS["key"], "value"),
    State(IDS["name"], "value"),
    State(IDS["owner"], "value"),
    State(IDS["steward"], "value"),
    State(IDS["refresh"], "value"),
    State(IDS["sla"], "value"),
    State(IDS["volume"], "value"),
    State(IDS["retention"], "value"),
    State(IDS["sensitivity"], "value"),
    State(IDS["description"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), dash.no_update)
)
def create_admin_source(
    call: CallContext,
    n_clicks: object,
    key: object,
    name: object,
    owner: object,
    steward: object,
    refresh: object,
    sla: object,
    volume: object,
    retention: object,
    sensitivity: object,
    description: object,
) -> tuple[Any, ...]:
    """Create the source (audited), then tell the ingest edge."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    new = ap.new_source(
        key,
        name,
        owner,
        refresh,
        sensitivity,
        description,
        ap.settings(sla, volume, retention, steward),
    )
    with write_session() as session:
        create_source(session, call.principal, new)
    later = announce_change()
    call.detail = {"source": new.key}
    note = alert(
        [
            f"Created {new.name}. ",
            dcc.Link("Open it", href=admin_source_href(new.key)),
            f" to give it a contract and an API key.{later}",
        ]
    )
    return note, {"source": new.key, "n": n_clicks}
