"""The account page: who you are, what you may do, which units you may see, and your personal
access tokens for the read API (created and revoked by guarded callbacks needing ``kpi:view``,
which is all a token can be used for; a token is shown once)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, html

from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.shell import account_tokens as look
from models.admin.rules import actor_of
from models.permissions import AccessDenied, Permission, Principal
from models.queries.scope import Unit, root_units
from models.queries.tokens import user_tokens
from models.tokens import TokenError, create_token, expiry, revoke_token

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/account", name="Account", title="Northstar · Account", order=90
)

PAGE = "account"
WHO_ID = "home-who"
SCOPE_ID = "home-scope"
PERMISSIONS_ID = "home-permissions"
TOKENS = {
    key: f"account-token-{key}"
    for key in (
        "name",
        "expires",
        "create",
        "result",
        "done",
        "choice",
        "revoke",
        "revoke-result",
        "revoked",
        "list",
    )
}


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
    # A token reads KPIs as its user: only for those who may (the callbacks check it too).
    tokens = [
        dash.dcc.Store(id=TOKENS["done"]),
        dash.dcc.Store(id=TOKENS["revoked"]),
        look.tokens_card(TOKENS),
    ]
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
            *(tokens if principal.has(Permission.KPI_VIEW) else []),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _own_id(call: CallContext) -> int:
    if call.principal.user_id is None:
        raise AccessDenied("tokens belong to a signed-in user")
    return call.principal.user_id


def _list_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), []


@dash.callback(
    Output(TOKENS["list"], "children"),
    Output(TOKENS["choice"], "options"),
    Input(TOKENS["done"], "data"),
    Input(TOKENS["revoked"], "data"),
)
@guarded_callback(page=PAGE, permission=Permission.KPI_VIEW, on_error=_list_refused)
def token_list(call: CallContext, /, *_changed: object) -> tuple[Any, Any]:
    """The signed-in user's own tokens, read again after each change."""
    now = utc_now()
    with read_connection() as connection:
        rows = user_tokens(connection, _own_id(call))
    call.rows = len(rows)
    return look.token_table(rows, now), look.revoke_options(rows, now)


def _changed_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), dash.no_update


def _days(value: object) -> int | None:
    if value == look.NEVER:
        return None
    if not isinstance(value, str) or value not in look.EXPIRY_CHOICES:
        raise ValueError("choose when the token expires")
    return int(value)


@dash.callback(
    Output(TOKENS["result"], "children"),
    Output(TOKENS["done"], "data"),
    Input(TOKENS["create"], "n_clicks"),
    State(TOKENS["name"], "value"),
    State(TOKENS["expires"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.KPI_VIEW, on_error=_changed_refused)
def create_own_token(
    call: CallContext, /, n_clicks: object, name: object, expires: object
) -> tuple[Any, Any]:
    """A new token of the signed-in user, shown once (only its hash is stored)."""
    if not isinstance(n_clicks, int) or n_clicks < 1:
        return dash.no_update, dash.no_update
    if not isinstance(name, str):
        raise ValueError("give the token a name")
    now = utc_now()
    expires_at = expiry(now, _days(expires))
    try:
        with write_session() as session:
            plaintext, row = create_token(
                session, _own_id(call), name, actor_of(call.principal), expires_at
            )
            call.detail = {"token": row.id}
    except TokenError as exc:
        raise ValueError(str(exc)) from None
    call.rows = 1
    return look.shown_once(plaintext, expires_at), now.isoformat()


@dash.callback(
    Output(TOKENS["revoke-result"], "children"),
    Output(TOKENS["revoked"], "data"),
    Input(TOKENS["revoke"], "n_clicks"),
    State(TOKENS["choice"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.KPI_VIEW, on_error=_changed_refused)
def revoke_own_token(call: CallContext, /, n_clicks: object, choice: object) -> tuple[Any, Any]:
    """Revoke one of the signed-in user's own tokens; it stops working at its next call."""
    if not isinstance(n_clicks, int) or n_clicks < 1:
        return dash.no_update, dash.no_update
    try:
        token_id = int(str(choice))
    except ValueError:
        raise ValueError("choose a token to revoke") from None
    now = utc_now()
    call.detail = {"token": token_id}
    try:
        with write_session() as session:
            row = revoke_token(session, _own_id(call), token_id, actor_of(call.principal), now)
            label = look.token_label_of(row.name, row.prefix)
    except TokenError as exc:
        raise ValueError(str(exc)) from None
    call.rows = 1
    message = f"Revoked {label}: it stops working now."
    return html.Div(message, className="alert alert-success py-1 px-2 mb-2"), now.isoformat()
