"""The account page: who you are, what you may do, and which units you may see."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import html

from dashboard.auth.policy import current_principal, read_connection
from models.permissions import AccessDenied, Principal
from models.queries.scope import Unit, root_units

dash.register_page(__name__, path="/account", name="Account", title="Northstar · Account")  # type: ignore[no-untyped-call]

WHO_ID = "home-who"
SCOPE_ID = "home-scope"
PERMISSIONS_ID = "home-permissions"


def layout(**_query: Any) -> html.Div:
    """Rendered per visit; the query string is ignored (never trusted)."""
    try:
        principal = current_principal()
    except AccessDenied:
        return html.Div("Please sign in.", className="alert alert-warning")
    with read_connection() as connection:
        units = root_units(connection, principal)
    return view(principal, units)


def view(principal: Principal, units: list[Unit]) -> html.Div:
    """The page for ``principal`` whose scope tops are ``units`` (pure: no I/O)."""
    scope = (
        html.Ul([html.Li(f"{u.name} ({u.level.value})") for u in units], id=SCOPE_ID)
        if units
        else html.P("No org units are granted to you yet.", id=SCOPE_ID)
    )
    permissions = ", ".join(sorted(p.value for p in principal.permissions)) or "none"
    return html.Div(
        [
            html.H1(f"Welcome, {principal.name}", id=WHO_ID, className="h3"),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H2("Your scope", className="h5"),
                        scope,
                        html.H2("Your permissions", className="h5 mt-3"),
                        html.P(permissions, id=PERMISSIONS_ID),
                    ]
                ),
            ),
        ]
    )
