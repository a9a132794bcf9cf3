"""Alert rules: every rule on a unit of the user's scope with its state now, firing first.

Anyone with ``kpi:view`` may look (the rules say what is watched where); people with
``alert:manage`` get links to the editor (``/alerts/<id>``) and a "New rule" button.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from dashboard.alerts.look import ALERTS_PATH, NEW_RULE, REVIEWS_PATH, rule_href
from dashboard.alerts.rule_list import STATE_FILTER, rules_table
from dashboard.auth.policy import (
    CallContext,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
)
from dashboard.common.look import refusal
from dashboard.common.params import option
from dashboard.shell import live
from models.alerts.tables import AlertState
from models.permissions import AccessDenied, Permission
from models.queries.alerts.rules import list_rules

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=ALERTS_PATH,
    name="Alerts",
    title="Northstar · Alerts",
    permission=Permission.KPI_VIEW.value,
    order=20,
)

PAGE = "alerts"
STATE_ID = "alerts-state"
TABLE_ID = "alerts-table"
LIMIT = 300


def layout(state: object = None, **_query: Any) -> html.Div:
    """The state filter (``?state=firing`` preselects one) and the table the callback fills."""
    try:
        principal = current_principal()
        principal.require(Permission.KPI_VIEW)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    chosen = option(state, [str(o["value"]) for o in STATE_FILTER], "all")
    manage = principal.has(Permission.ALERT_MANAGE)
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(html.H1("Alert rules", className="h3 mb-0"), xs=12, md=True),
                    dbc.Col(
                        dcc.Dropdown(
                            id=STATE_ID, options=STATE_FILTER, value=chosen, clearable=False
                        ),
                        xs=12,
                        md=3,
                    ),
                    dbc.Col(
                        [
                            dcc.Link("Reviews", href=REVIEWS_PATH, className="btn btn-link"),
                            dcc.Link(
                                "New rule", href=rule_href(NEW_RULE), className="btn btn-primary"
                            )
                            if manage
                            else None,
                        ],
                        xs=12,
                        md="auto",
                    ),
                ],
                class_name="g-2 align-items-center mb-3",
            ),
            dcc.Loading(html.Div(id=TABLE_ID), type="dot", delay_show=300),
        ]
    )


@dash.callback(Output(TABLE_ID, "children"), Input(STATE_ID, "value"))
@guarded_callback(page=PAGE, permission=Permission.KPI_VIEW, on_error=error_view)
def alert_rules(call: CallContext, state: object) -> Any:
    """The rules in scope in the chosen state (``all`` or a state; untrusted)."""
    chosen = option(state, [str(o["value"]) for o in STATE_FILTER], "")
    if not chosen:
        raise ValueError("choose a state from the list")
    states = None if chosen == "all" else [AlertState(chosen)]
    with read_connection() as connection:
        rules = list_rules(connection, call.principal, states=states, limit=LIMIT)
    call.rows = len(rules)
    call.detail = {"state": chosen}
    editable = call.principal.has(Permission.ALERT_MANAGE)
    return rules_table(rules, live.utc_now(), editable=editable, limit=LIMIT)
