"""Reviews: the decisions firing alerts asked for, on units of the user's scope, unfinished
first and soonest due first, filtered by state, severity and owner."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, dcc, html

from dashboard.alerts.look import ALERTS_PATH, REVIEWS_PATH
from dashboard.alerts.review_views import UNFINISHED, OwnerFilter, filters, reviews_table
from dashboard.auth.policy import (
    CallContext,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
)
from dashboard.common import params
from dashboard.common.look import refusal
from dashboard.shell import live
from models.alerts.tables import AlertSeverity, ReviewState
from models.permissions import AccessDenied, Permission
from models.queries.alerts.reviews import ReviewFilter, list_reviews

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=REVIEWS_PATH,
    name="Reviews",
    title="Northstar · Reviews",
    permission=Permission.KPI_VIEW.value,
    order=21,
)

PAGE = "reviews"
IDS = {"state": "reviews-state", "severity": "reviews-severity", "mine": "reviews-mine"}
TABLE_ID = "reviews-table"
LIMIT = 200


def layout(state: object = None, **_query: Any) -> html.Div:
    """Filters (``?state=<state>`` or ``all`` preselects) and the list the callback fills."""
    try:
        current_principal().require(Permission.KPI_VIEW)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    chosen = params.option(state, [*(s.value for s in ReviewState), "all"], "")
    states = UNFINISHED if not chosen else [] if chosen == "all" else [chosen]
    return html.Div(
        [
            html.H1("Reviews", className="h3"),
            html.P(
                [
                    "Opened by firing alerts; see the ",
                    dcc.Link("alert rules", href=ALERTS_PATH),
                    ".",
                ],
                className="text-muted small",
            ),
            filters(IDS, states),
            dcc.Loading(html.Div(id=TABLE_ID), type="dot", delay_show=300),
        ]
    )


@dash.callback(
    Output(TABLE_ID, "children"),
    Input(IDS["state"], "value"),
    Input(IDS["severity"], "value"),
    Input(IDS["mine"], "value"),
)
@guarded_callback(page=PAGE, permission=Permission.KPI_VIEW, on_error=error_view)
def review_list(call: CallContext, states: object, severities: object, mine: object) -> Any:
    """The reviews in scope matching the filters (all untrusted browser input)."""
    only_mine = params.choices(mine, OwnerFilter, "owner filter") != []
    chosen = ReviewFilter(
        states=params.choices(states, ReviewState, "state"),
        severities=params.choices(severities, AlertSeverity, "severity"),
        owner_user_id=call.principal.user_id if only_mine else None,
    )
    if only_mine and call.principal.user_id is None:
        raise ValueError("only a signed-in user owns reviews")
    with read_connection() as connection:
        reviews = list_reviews(connection, call.principal, chosen, limit=LIMIT)
    call.rows = len(reviews)
    call.detail = {
        "states": [s.value for s in chosen.states or ()],
        "severities": [s.value for s in chosen.severities or ()],
        "mine": only_mine,
    }
    return reviews_table(reviews, live.utc_now(), limit=LIMIT)
