"""The log viewers (admin console): the access log (every data read, sign-in and refusal) and
the audit log (every configuration and permission change), filtered by user, days, text and
outcome or kind, paged on the server, exported as CSV.

Needs ``audit:view`` over the whole organisation (``models.queries.admin.logs``). Every page
read and every export is itself written to ``access_log`` by the guarded callbacks.
``?log=audit`` shows the audit log, anything else the access log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboard.admin import logs_params as lp
from dashboard.admin.logs_look import (
    ADMIN_LOGS_PATH,
    LOG_IDS,
    PAGE_SIZE,
    TITLES,
    csv_text,
    grid_rows,
    log_section,
    logs_href,
    page_count,
    summary,
    user_options,
)
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
from dashboard.common.look import refusal
from dashboard.steward import quarantine_params as qp
from models.permissions import AccessDenied, Permission
from models.queries.admin.logs import (
    LogFilter,
    LogKind,
    TooManyRows,
    audit_target_types,
    log_export,
    log_page,
    log_users,
)

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=ADMIN_LOGS_PATH,
    name="Logs",
    title="Northstar · Logs",
    permission=Permission.AUDIT_VIEW.value,
    nav_group="Admin",
    order=70,
)

PAGE = "admin-logs"
VIEW = Permission.AUDIT_VIEW
ACCESS, AUDIT = LOG_IDS[LogKind.ACCESS], LOG_IDS[LogKind.AUDIT]


def layout(log: object = None, **_query: Any) -> html.Div:
    """One log's filters, grid and export; the guarded callbacks read and check everything."""
    try:
        current_principal().require(VIEW)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    kind = LogKind.AUDIT if log == LogKind.AUDIT.value else LogKind.ACCESS
    links = [
        html.Strong(TITLES[k]) if k is kind else dcc.Link(TITLES[k], href=logs_href(k))
        for k in LogKind
    ]
    return html.Div(
        [
            html.H1(TITLES[kind], className="h3"),
            html.P([links[0], " · ", links[1]], className="small"),
            log_section(kind),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- filter choices ---------------------------------------------------------------------------


def _no_choices(_error: UserFacingError) -> list[dict[str, Any]]:
    return []


@dash.callback(Output(ACCESS["user"], "options"), Input(ACCESS["load"], "data"))
@guarded_callback(page=PAGE, permission=VIEW, on_error=_no_choices)
def access_log_choices(call: CallContext, _load: object) -> list[dict[str, Any]]:
    """The users the access log can be filtered by."""
    with read_connection() as connection:
        users = log_users(connection, call.principal)
    call.rows = len(users)
    return user_options(users)


@dash.callback(
    Output(AUDIT["user"], "options"),
    Output(AUDIT["choice"], "options"),
    Input(AUDIT["load"], "data"),
)
@guarded_callback(page=PAGE, permission=VIEW, on_error=lambda _error: ([], []))
def audit_log_choices(call: CallContext, _load: object) -> tuple[Any, ...]:
    """The actors and the kinds of target the audit log can be filtered by."""
    with read_connection() as connection:
        users = log_users(connection, call.principal)
        kinds = audit_target_types(connection, call.principal)
    call.rows = len(users) + len(kinds)
    return user_options(users), [{"label": k, "value": k} for k in kinds]


# --- one page of a log ------------------------------------------------------------------------


def _page_refused(error: UserFacingError) -> tuple[Any, ...]:
    return [], error_view(error), 1, dash.no_update


def _rows(
    call: CallContext, kind: LogKind, chosen: LogFilter, active_page: object, filters: set[str]
) -> tuple[Any, ...]:
    page = 1 if dash.ctx.triggered_id in filters else qp.page_number(active_page)
    cap = current_services().settings.query_row_limit
    with read_connection() as connection:
        found = log_page(
            connection,
            call.principal,
            kind,
            chosen,
            offset=(page - 1) * PAGE_SIZE,
            page_size=PAGE_SIZE,
            cap=cap,
        )
    call.rows = len(found.rows)
    call.detail = {"log": kind.value, "page": page, **lp.describe(chosen)}
    return grid_rows(kind, found.rows), summary(found, kind), page_count(found), page


def _filters(ids: dict[str, str]) -> set[str]:
    return {ids[name] for name in ("user", "dates", "text", "choice", "order")}


@dash.callback(
    Output(ACCESS["grid"], "rowData"),
    Output(ACCESS["summary"], "children"),
    Output(ACCESS["pages"], "max_value"),
    Output(ACCESS["pages"], "active_page"),
    Input(ACCESS["user"], "value"),
    Input(ACCESS["dates"], "start_date"),
    Input(ACCESS["dates"], "end_date"),
    Input(ACCESS["text"], "value"),
    Input(ACCESS["choice"], "value"),
    Input(ACCESS["order"], "value"),
    Input(ACCESS["pages"], "active_page"),
)
@guarded_callback(page=PAGE, permission=VIEW, on_error=_page_refused)
def access_log_rows(
    call: CallContext,
    who: object,
    start: object,
    end: object,
    text: object,
    outcomes: object,
    order: object,
    active_page: object,
) -> tuple[Any, ...]:
    """One page of the access log matching the filters (all untrusted input)."""
    chosen = lp.log_filter(who, start, end, text, order=order, outcomes=outcomes)
    return _rows(call, LogKind.ACCESS, chosen, active_page, _filters(ACCESS))


@dash.callback(
    Output(AUDIT["grid"], "rowData"),
    Output(AUDIT["summary"], "children"),
    Output(AUDIT["pages"], "max_value"),
    Output(AUDIT["pages"], "active_page"),
    Input(AUDIT["user"], "value"),
    Input(AUDIT["dates"], "start_date"),
    Input(AUDIT["dates"], "end_date"),
    Input(AUDIT["text"], "value"),
    Input(AUDIT["choice"], "value"),
    Input(AUDIT["order"], "value"),
    Input(AUDIT["pages"], "active_page"),
)
@guarded_callback(page=PAGE, permission=VIEW, on_error=_page_refused)
def audit_log_rows(
    call: CallContext,
    who: object,
    start: object,
    end: object,
    text: object,
    kinds: object,
    order: object,
    active_page: object,
) -> tuple[Any, ...]:
    """One page of the audit log matching the filters (all untrusted input)."""
    chosen = lp.log_filter(who, start, end, text, order=order, kinds=kinds)
    return _rows(call, LogKind.AUDIT, chosen, active_page, _filters(AUDIT))


# --- CSV export -------------------------------------------------------------------------------


def _export_refused(error: UserFacingError) -> tuple[Any, ...]:
    return dash.no_update, error_view(error)


def _export(call: CallContext, kind: LogKind, chosen: LogFilter) -> tuple[Any, ...]:
    """Every matching row (at most NORTHSTAR_LOG_EXPORT_MAX_ROWS) as a CSV download."""
    limit = current_services().settings.log_export_max_rows
    call.detail = {"log": kind.value, "export": "csv", **lp.describe(chosen)}
    try:
        with read_connection() as connection:
            rows = log_export(connection, call.principal, kind, chosen, max_rows=limit)
    except TooManyRows as exc:
        call.detail["too_many"] = True
        return dash.no_update, html.Div(
            f"Nothing was exported: {exc}.", role="alert", className="alert alert-warning mb-0"
        )
    call.rows = len(rows)
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    download = {
        "content": csv_text(kind, rows),
        "filename": f"northstar-{kind.value}-log-{stamp}.csv",
        "type": "text/csv",
    }
    note = f"Exported {len(rows):,} row{'s' if len(rows) != 1 else ''}."
    return download, html.Div(note, className="small text-muted")


@dash.callback(
    Output(ACCESS["download"], "data"),
    Output(ACCESS["export-note"], "children"),
    Input(ACCESS["export"], "n_clicks"),
    State(ACCESS["user"], "value"),
    State(ACCESS["dates"], "start_date"),
    State(ACCESS["dates"], "end_date"),
    State(ACCESS["text"], "value"),
    State(ACCESS["choice"], "value"),
    State(ACCESS["order"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=VIEW, on_error=_export_refused)
def export_access_log(
    call: CallContext,
    n_clicks: object,
    who: object,
    start: object,
    end: object,
    text: object,
    outcomes: object,
    order: object,
) -> tuple[Any, ...]:
    """The access log rows matching the filters, as CSV."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    chosen = lp.log_filter(who, start, end, text, order=order, outcomes=outcomes)
    return _export(call, LogKind.ACCESS, chosen)


@dash.callback(
    Output(AUDIT["download"], "data"),
    Output(AUDIT["export-note"], "children"),
    Input(AUDIT["export"], "n_clicks"),
    State(AUDIT["user"], "value"),
    State(AUDIT["dates"], "start_date"),
    State(AUDIT["dates"], "end_date"),
    State(AUDIT["text"], "value"),
    State(AUDIT["choice"], "value"),
    State(AUDIT["order"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=VIEW, on_error=_export_refused)
def export_audit_log(
    call: CallContext,
    n_clicks: object,
    who: object,
    start: object,
    end: object,
    text: object,
    kinds: object,
    order: object,
) -> tuple[Any, ...]:
    """The audit log rows matching the filters, as CSV."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    chosen = lp.log_filter(who, start, end, text, order=order, kinds=kinds)
    return _export(call, LogKind.AUDIT, chosen)
