"""The events page (level 3): the raw events behind a KPI, unit and period, a page at a time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, NamedTuple

import dash
import dash_bootstrap_components as dbc
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
from dashboard.components.breakdown import kpi_href
from dashboard.components.events_grid import PAGE_SIZES, events_grid, grid_columns, grid_rows
from dashboard.summary import (
    PERIOD_LABELS,
    PeriodChoice,
    checked_key,
    parse_period_choice,
    period_for,
)
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import QueryLimits
from models.queries.events import EventCursor, EventsPage, Order, events_page
from models.queries.kpis import KpiDefinition, UnknownKpi, load_kpi
from models.queries.lineage import kpi_lineage
from models.queries.scope import Unit, root_units

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/events", name="Events", title="Northstar — events", nav=False
)

PARAMS_ID = "events-params"
GRID_ID = "events-grid"
STATUS_ID = "events-status"
ORDER_ID = "events-order"
SIZE_ID = "events-size"
SOURCE_ID = "events-source"
AFTER_ID = "events-after"
NEXT_ID = "events-next-cursor"
HISTORY_ID = "events-history"
NEXT_BUTTON_ID = "events-next"
PREVIOUS_BUTTON_ID = "events-previous"
FIRST_BUTTON_ID = "events-first"
DEFAULT_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 400
MAX_HISTORY = 10_000


class EventsRequest(NamedTuple):
    """The browser's request, validated (not yet authorised)."""

    kpi_key: str
    unit: str | None
    period: PeriodChoice
    order: Order
    page_size: int
    source: str | None
    after: EventCursor | None


def parse_order(value: object) -> Order:
    for order in Order:
        if value == order.value:
            return order
    raise ValueError("order must be asc or desc")


def parse_page_size(value: object, maximum: int) -> int:
    """A page size from the browser, capped at ``maximum`` (NORTHSTAR_EVENTS_PAGE_MAX)."""
    if value is None:
        return min(DEFAULT_PAGE_SIZE, maximum)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("page size must be a positive whole number")
    return min(value, maximum)


def parse_cursor(value: object) -> EventCursor | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_CURSOR_LENGTH:
        raise ValueError("not a valid events cursor")
    return EventCursor.decode(value)


def parse_events_request(
    params: object, after: object, order: object, size: object, source: object, maximum: int
) -> EventsRequest:
    """Validate every input of the events callback; ValueError fit for users otherwise."""
    if not isinstance(params, dict):
        raise ValueError("the page parameters are malformed")
    unit = params.get("unit")
    return EventsRequest(
        kpi_key=checked_key(params.get("kpi"), "KPI"),
        unit=None if unit in (None, "") else checked_key(unit, "unit"),
        period=parse_period_choice(params.get("period")),
        order=parse_order(order),
        page_size=parse_page_size(size, maximum),
        source=None if source in (None, "") else checked_key(source, "source"),
        after=parse_cursor(after),
    )


def kpi_and_unit(
    connection: Connection, principal: Principal, request: EventsRequest
) -> tuple[KpiDefinition, Unit]:
    """The KPI (an unknown key is bad input) and the unit in scope (default: the scope root)."""
    try:
        kpi = load_kpi(connection, principal, request.kpi_key)
    except UnknownKpi:
        raise ValueError("there is no KPI with that key") from None
    if request.unit is not None:
        return kpi, authorize_unit(connection, principal, request.unit)
    roots = root_units(connection, principal)
    if not roots:
        raise AccessDenied("no org units are granted to you")
    return kpi, roots[0]


def layout(
    kpi: str | None = None, unit: str | None = None, period: str | None = None, **_query: Any
) -> html.Div:
    """Controls, the grid and the paging state; the guarded callback reads everything."""
    return html.Div(
        [
            dcc.Store(id=PARAMS_ID, data={"kpi": kpi, "unit": unit, "period": period}),
            dcc.Store(id=AFTER_ID, data=None),
            dcc.Store(id=NEXT_ID, data=None),
            dcc.Store(id=HISTORY_ID, data=[]),
            html.H1("Events", className="h3"),
            dbc.Row(
                [
                    dbc.Col(_order_control(), md="auto"),
                    dbc.Col(_size_control(), md="auto"),
                    dbc.Col(
                        dcc.Dropdown(
                            id=SOURCE_ID, options=[], placeholder="All sources", clearable=True
                        ),
                        md=3,
                    ),
                ],
                className="mb-2 g-3 align-items-center",
            ),
            html.Div(id=STATUS_ID, className="mb-2"),
            events_grid(GRID_ID),
            dbc.ButtonGroup(
                [
                    dbc.Button("⏮ First page", id=FIRST_BUTTON_ID, color="secondary", outline=True),
                    dbc.Button(
                        "◀ Previous", id=PREVIOUS_BUTTON_ID, color="secondary", outline=True
                    ),
                    dbc.Button("Next ▶", id=NEXT_BUTTON_ID, color="primary", outline=True),
                ],
                className="mt-2",
            ),
        ]
    )


def _order_control() -> dbc.RadioItems:
    return dbc.RadioItems(
        id=ORDER_ID,
        options=[
            {"label": "Newest first", "value": Order.NEWEST_FIRST.value},
            {"label": "Oldest first", "value": Order.OLDEST_FIRST.value},
        ],
        value=Order.NEWEST_FIRST.value,
        inline=True,
    )


def _size_control() -> dbc.Select:
    return dbc.Select(
        id=SIZE_ID,
        options=[{"label": f"{n} a page", "value": n} for n in PAGE_SIZES],
        value=DEFAULT_PAGE_SIZE,
    )


def status_line(
    page: EventsPage, request: EventsRequest, unit: Unit, kpi_name: str, page_number: int
) -> html.Div:
    """Which events are shown, where they come from and how to go back up a level."""
    first = (page_number - 1) * page.page_size + 1
    shown = (
        f"Events {first} to {first + len(page.rows) - 1}" if page.rows else "No events on this page"
    )
    order = "newest first" if request.order is Order.NEWEST_FIRST else "oldest first"
    more = "More on the next page." if page.next_cursor else "This is the last page."
    return html.Div(
        [
            html.Span(
                f"{shown} ({order}) behind {kpi_name} for {unit.name}, "
                f"{PERIOD_LABELS[request.period].lower()}. {more} ",
            ),
            dcc.Link(
                "Back to the KPI", href=kpi_href(request.kpi_key, unit.key, request.period.value)
            ),
        ]
    )


def _refused(error: UserFacingError) -> tuple[Any, ...]:
    return [], dash.no_update, error_view(error), None, dash.no_update


def _page_number(history: object) -> int:
    return (len(history) if isinstance(history, list) else 0) + 1


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dash.callback(
    Output(GRID_ID, "rowData"),
    Output(GRID_ID, "columnDefs"),
    Output(STATUS_ID, "children"),
    Output(NEXT_ID, "data"),
    Output(SOURCE_ID, "options"),
    Input(PARAMS_ID, "data"),
    Input(AFTER_ID, "data"),
    State(ORDER_ID, "value"),
    State(SIZE_ID, "value"),
    State(SOURCE_ID, "value"),
    State(HISTORY_ID, "data"),
)
@guarded_callback(page="events", permission=Permission.EVENT_VIEW, on_error=_refused)
def events_rows(
    call: CallContext,
    params: object,
    after: object,
    order: object,
    size: object,
    source: object,
    history: object,
) -> tuple[Any, ...]:
    """One page of events in scope, classified fields masked by the query layer."""
    settings = current_services().settings
    limits = QueryLimits.from_settings(settings)
    # dbc.Select sends its value as a string; anything else is taken as sent and checked.
    if isinstance(size, str) and size.isdigit() and len(size) < 12:
        size = int(size)
    request = parse_events_request(params, after, order, size, source, limits.events_page_max)
    now = utc_now()
    with read_connection() as connection:
        kpi, unit = kpi_and_unit(connection, call.principal, request)
        lineage = kpi_lineage(connection, call.principal, kpi, now)
        by_key = {s.key: s.id for s in lineage.sources}
        if request.source is not None:
            if request.source not in by_key:
                raise ValueError("that source does not feed this KPI")
            kpi = dataclasses.replace(kpi, source_ids=frozenset({by_key[request.source]}))
        period = period_for(request.period, now)
        page = events_page(
            connection,
            call.principal,
            kpi,
            unit.id,
            period.start,
            period.end,
            page_size=request.page_size,
            after=request.after,
            order=request.order,
            limits=limits,
        )
    call.rows = len(page.rows)
    call.detail = {
        "kpi": request.kpi_key,
        "unit": unit.key,
        "period": request.period.value,
        "page_size": page.page_size,
        "order": request.order.value,
        "source": request.source,
    }
    return (
        grid_rows(page.rows),
        grid_columns(page.rows),
        status_line(page, request, unit, kpi.name, _page_number(history)),
        page.next_cursor.encode() if page.next_cursor else None,
        [{"label": s.name, "value": s.key} for s in lineage.sources],
    )


def navigate(trigger: object, after: object, next_cursor: object, history: object) -> Any:
    """The cursor of the page to show and the cursors of the pages before it.

    "Next" moves to ``next_cursor`` (when there is one), "Previous" back one page, anything
    else (first page, a new order, size or source) to the first page.
    """
    stack = (
        [c for c in history if c is None or isinstance(c, str)] if isinstance(history, list) else []
    )
    if trigger == NEXT_BUTTON_ID:
        if not isinstance(next_cursor, str) or len(stack) >= MAX_HISTORY:
            return dash.no_update, dash.no_update
        parse_cursor(next_cursor)
        return next_cursor, [*stack, after if isinstance(after, str) else None]
    if trigger == PREVIOUS_BUTTON_ID:
        if not stack:
            return dash.no_update, dash.no_update
        return stack[-1], stack[:-1]
    return None, []


@dash.callback(
    Output(AFTER_ID, "data"),
    Output(HISTORY_ID, "data"),
    Input(NEXT_BUTTON_ID, "n_clicks"),
    Input(PREVIOUS_BUTTON_ID, "n_clicks"),
    Input(FIRST_BUTTON_ID, "n_clicks"),
    Input(ORDER_ID, "value"),
    Input(SIZE_ID, "value"),
    Input(SOURCE_ID, "value"),
    State(AFTER_ID, "data"),
    State(NEXT_ID, "data"),
    State(HISTORY_ID, "data"),
    prevent_initial_call=True,
)
@guarded_callback(
    page="events",
    permission=Permission.EVENT_VIEW,
    on_error=lambda _error: (None, []),
)
def page_cursor(call: CallContext, *inputs: object) -> Any:
    """Move between pages; reads no data (the rows callback checks the cursor it gets)."""
    after, next_cursor, history = inputs[-3:]
    return navigate(dash.ctx.triggered_id, after, next_cursor, history)
