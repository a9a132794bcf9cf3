"""The events page (level 3): the raw events behind a KPI, unit and period, in a server-side grid.

The grid (dash-ag-grid's infinite row model) asks for one block of rows at a time with its
header sort and column filters; ``events_rows`` checks every part of that request on the
server and reads the block with ``models.queries.executive.event_block.events_block``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import dash
from dash import Input, Output, State, dcc, html
from sqlalchemy import Connection

from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    authorize_unit,
    current_services,
    error_view,
    guarded_callback,
    read_connection,
)
from dashboard.executive.breakdown import kpi_href
from dashboard.executive.events_grid import DEFAULT_BLOCK, events_grid, grid_columns, grid_rows
from dashboard.executive.events_request import GridRequest, column_id, parse_rows_request
from dashboard.executive.summary import (
    PERIOD_LABELS,
    PeriodChoice,
    checked_key,
    parse_period_choice,
    period_for,
)
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import QueryLimits
from models.queries.executive.definitions import KpiDefinition, UnknownKpi, load_kpi
from models.queries.executive.event_block import EventsBlock, event_catalog, events_block
from models.queries.executive.event_query import ColumnGroup
from models.queries.scope import Unit, root_units
from models.queries.steward.lineage import kpi_lineage

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/events", name="Events", title="Northstar — events", nav=False
)

PARAMS_ID = "events-params"
GRID_ID = "events-grid"
STATUS_ID = "events-status"
SOURCES_ID = "events-sources"


class EventsParams(NamedTuple):
    """The page's parameters (from its URL), validated (not yet authorised)."""

    kpi_key: str
    unit: str | None
    period: PeriodChoice


def parse_params(params: object) -> EventsParams:
    """KPI, unit and period from the browser; ValueError fit for users otherwise."""
    if not isinstance(params, dict):
        raise ValueError("the page parameters are malformed")
    unit = params.get("unit")
    return EventsParams(
        kpi_key=checked_key(params.get("kpi"), "KPI"),
        unit=None if unit in (None, "") else checked_key(unit, "unit"),
        period=parse_period_choice(params.get("period")),
    )


def kpi_and_unit(
    connection: Connection, principal: Principal, params: EventsParams
) -> tuple[KpiDefinition, Unit]:
    """The KPI (an unknown key is bad input) and the unit in scope (default: the scope root)."""
    try:
        kpi = load_kpi(connection, principal, params.kpi_key)
    except UnknownKpi:
        raise ValueError("there is no KPI with that key") from None
    if params.unit is not None:
        return kpi, authorize_unit(connection, principal, params.unit)
    roots = root_units(connection, principal)
    if not roots:
        raise AccessDenied("no org units are granted to you")
    return kpi, roots[0]


def layout(
    kpi: str | None = None, unit: str | None = None, period: str | None = None, **_query: Any
) -> html.Div:
    """The grid and its status; the guarded callbacks read and check everything."""
    block = min(DEFAULT_BLOCK, current_services().settings.events_page_max)
    return html.Div(
        [
            dcc.Store(id=PARAMS_ID, data={"kpi": kpi, "unit": unit, "period": period}),
            html.H1("Events", className="h3"),
            html.Div(id=SOURCES_ID, className="small text-muted mb-1"),
            html.Div(id=STATUS_ID, className="mb-2"),
            events_grid(GRID_ID, block),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sources_note(names: list[tuple[str, str]]) -> str:
    listed = ", ".join(f"{name} ({key})" for name, key in names)
    return (
        f"Sources: {listed}. Click a header to sort (shift-click to add up to 3 columns); "
        "filter from a header's menu. Masked columns cannot be sorted or filtered."
    )


def _no_columns() -> tuple[Any, ...]:
    # events_rows shows the same refusal where the rows would be.
    return dash.no_update, None


@dash.callback(
    Output(GRID_ID, "columnDefs"),
    Output(SOURCES_ID, "children"),
    Input(PARAMS_ID, "data"),
)
@guarded_callback(
    page="events",
    permission=Permission.EVENT_VIEW,
    on_error=lambda _error: _no_columns(),
)
def events_columns(call: CallContext, params: object) -> tuple[Any, ...]:
    """The columns this user may see for the KPI's sources, and which can be sorted/filtered."""
    request = parse_params(params)
    with read_connection() as connection:
        kpi, unit = kpi_and_unit(connection, call.principal, request)
        catalog = event_catalog(connection, call.principal, kpi)
        lineage = kpi_lineage(connection, call.principal, kpi, utc_now())
    call.detail = {"kpi": request.kpi_key, "unit": unit.key, "columns": len(catalog)}
    names = [(s.name, s.key) for s in lineage.sources]
    return grid_columns(catalog.values()), sources_note(names)


def _refused(error: UserFacingError) -> tuple[Any, ...]:
    # No rows, and a count of 0: the grid stops asking until the sort or filters change.
    return {"rowData": [], "rowCount": 0}, error_view(error)


def describe(grid: GridRequest) -> dict[str, Any]:
    """What was asked, for ``access_log``: columns and operators, never filter values."""
    return {
        "sort": [
            f"{column_id(s.column)}:{'desc' if s.descending else 'asc'}" for s in grid.query.sort
        ],
        "filters": {
            column_id(f.column): [c.op.value for c in f.conditions] for f in grid.query.filters
        },
    }


def status_line(
    block: EventsBlock, grid: GridRequest, params: EventsParams, unit: Unit, kpi_name: str
) -> html.Div:
    """Whose events these are, how they are sorted and filtered, and the way back up.

    The grid's own pagination panel says which rows are shown.
    """
    sort = grid.query.sort
    if not sort or sort[0].column.group is ColumnGroup.TS:
        newest = not sort or sort[0].descending
        order = "newest first" if newest else "oldest first"
    else:
        direction = "descending" if sort[0].descending else "ascending"
        order = f"by {sort[0].column.label}, {direction}"
    filtered = (
        "; filtered by " + ", ".join(f.column.label for f in grid.query.filters)
        if grid.query.filters
        else ""
    )
    notes = ""
    if block.start_row == 0 and not block.rows:
        notes = "No events match. "
    if block.truncated:
        notes = f"Only the first {block.row_count:,} matching events can be paged through. "
    return html.Div(
        [
            html.Span(
                f"The events behind {kpi_name} for {unit.name}, "
                f"{PERIOD_LABELS[params.period].lower()} ({order}{filtered}). {notes}"
            ),
            dcc.Link(
                "Back to the KPI", href=kpi_href(params.kpi_key, unit.key, params.period.value)
            ),
        ]
    )


def block_response(block: EventsBlock) -> dict[str, Any]:
    """``getRowsResponse``: the rows, and the row count once the end is known."""
    response: dict[str, Any] = {"rowData": grid_rows(block.rows)}
    if block.row_count is not None:
        response["rowCount"] = block.row_count
    return response


@dash.callback(
    Output(GRID_ID, "getRowsResponse"),
    Output(STATUS_ID, "children"),
    Input(GRID_ID, "getRowsRequest"),
    State(PARAMS_ID, "data"),
    prevent_initial_call=True,
)
@guarded_callback(page="events", permission=Permission.EVENT_VIEW, on_error=_refused)
def events_rows(call: CallContext, rows_request: object, params: object) -> tuple[Any, ...]:
    """One block of events in scope, sorted and filtered on the server, classified fields masked."""
    limits = QueryLimits.from_settings(current_services().settings)
    request = parse_params(params)
    grid = parse_rows_request(rows_request)
    call.detail = {"kpi": request.kpi_key, "period": request.period.value, **describe(grid)}
    now = utc_now()
    with read_connection() as connection:
        kpi, unit = kpi_and_unit(connection, call.principal, request)
        period = period_for(request.period, now)
        block = events_block(
            connection,
            call.principal,
            kpi,
            unit,
            period.start,
            period.end,
            query=grid.query,
            start_row=grid.start_row,
            page_size=grid.page_size,
            limits=limits,
        )
    call.rows = len(block.rows)
    call.detail.update(unit=unit.key, start_row=block.start_row, page_size=block.page_size)
    return block_response(block), status_line(block, grid, request, unit, kpi.name)
