"""Admin console, users: list and filter, create or invite, roles and scopes, deactivate,
reactivate and password-reset links (``user:manage``, checked in the layout and every callback).

The selected user comes from ``?user=<id>`` (untrusted): every callback checks the admin may
manage that user. Each action is its own guarded callback running ``models.admin.users`` in
one committed transaction, audited there; deactivation ends the user's sessions in the same
transaction, so their next request is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dash
from dash import Input, Output, State, html
from flask import request

from dashboard.admin import users_params as params
from dashboard.admin.users import (
    ANY_ROLE,
    MODE_PASSWORD,
    USERS_PATH,
    create_form,
    done,
    filters,
    link_shown,
    user_href,
    user_info,
    user_panel,
    users_table,
)
from dashboard.auth import sessions
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
from dashboard.common.look import refusal, when
from models.admin import users as admin
from models.admin.links import INVITE_PATH, link_base
from models.admin.rules import actor_of
from models.permissions import AccessDenied, Permission
from models.queries.admin.users import (
    MAX_USERS,
    UserStatus,
    get_user,
    list_users,
    role_options,
    unit_options,
)

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=USERS_PATH,
    name="Users",
    title="Northstar · Users",
    permission=Permission.USER_MANAGE.value,
    nav_group="Admin",
    order=40,
)

PAGE = "admin-users"
USER_ID = "admin-user-id"
TABLE_ID = "admin-users-table"
PANEL_ID = "admin-user-panel"
FILTERS = {
    "search": "admin-users-search",
    "role": "admin-users-role",
    "status": "admin-users-status",
}
ACTIONS = ("save", "reset", "deactivate", "reactivate")
USER = {
    "info": "admin-user-info",
    "roles": "admin-user-roles",
    "scopes": "admin-user-scopes",
    **{action: f"admin-user-{action}" for action in ACTIONS},
    **{f"{action}-result": f"admin-user-{action}-result" for action in ACTIONS},
}
NEW = {
    key: f"admin-new-{key}"
    for key in ("email", "name", "roles", "scopes", "mode", "password", "create")
} | {"create-result": "admin-new-create-result"}
DONE = {action: f"admin-users-done-{action}" for action in (*ACTIONS, "create")}
"""A store per action, changed after it succeeded: the list and the panel read again."""


def layout(user: object = None, **_query: Any) -> html.Div:
    """Filters, the users table, the selected user's panel (``?user=<id>``), the create form."""
    try:
        principal = current_principal()
        principal.require(Permission.USER_MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    with read_connection() as connection:
        roles = role_options(connection, principal)
        units = unit_options(connection, principal)
    return html.Div(
        [
            dash.dcc.Store(id=USER_ID, data=user if isinstance(user, str) else None),
            *(dash.dcc.Store(id=store) for store in DONE.values()),
            html.H1("Users", className="h3"),
            html.Div(
                [
                    html.Div(
                        [filters(FILTERS, roles), html.Div(id=TABLE_ID)], className="col-lg-7"
                    ),
                    html.Div(
                        [
                            html.Div(user_panel(USER, roles, units), id=PANEL_ID, hidden=True),
                            create_form(NEW, roles, units),
                        ],
                        className="col-lg-5",
                    ),
                ],
                className="row",
            ),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dash.callback(
    Output(TABLE_ID, "children"),
    Input(FILTERS["search"], "value"),
    Input(FILTERS["role"], "value"),
    Input(FILTERS["status"], "value"),
    *(Input(store, "data") for store in DONE.values()),
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=error_view)
def users_list(
    call: CallContext, /, search: object, role: object, status: object, *_done: object
) -> html.Div:
    """The users the admin may manage, filtered (every filter value is untrusted)."""
    text = params.text(search, "search", 100)
    role_id = None if role == ANY_ROLE else params.optional_id(role, "a role")
    chosen = params.one_of(status, UserStatus, "status")
    with read_connection() as connection:
        rows = list_users(connection, call.principal, search=text, role_id=role_id, status=chosen)
    call.rows = len(rows)
    return users_table(rows, MAX_USERS)


def _panel_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), [], [], False


@dash.callback(
    Output(USER["info"], "children"),
    Output(USER["roles"], "value"),
    Output(USER["scopes"], "value"),
    Output(PANEL_ID, "hidden"),
    Input(USER_ID, "data"),
    *(Input(store, "data") for store in DONE.values()),
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_panel_refused)
def user_detail(call: CallContext, /, user: object, *_done: object) -> tuple[Any, ...]:
    """The selected user's facts and current grants, read again after each action."""
    if user is None:
        return None, [], [], True
    user_id = params.record_id(user, "a user")
    with read_connection() as connection:
        detail = get_user(connection, call.principal, user_id, utc_now())
    call.rows = 1
    call.detail = {"user": user_id}
    return user_info(detail), list(detail.role_ids), list(detail.unit_ids), False


def _refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), dash.no_update


def _link_base() -> str:
    return link_base(current_services().settings, request.host_url)


def _link_url(base: str, token: str) -> str:
    return f"{base}{INVITE_PATH}{token}"


def _action(action: str, *states: State) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the guarded callback of ``action``'s button."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        guarded = guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_refused)(
            fn
        )
        return dash.callback(
            Output(USER[f"{action}-result"], "children"),
            Output(DONE[action], "data"),
            Input(USER[action], "n_clicks"),
            State(USER_ID, "data"),
            *states,
            prevent_initial_call=True,
        )(guarded)

    return register


@_action("save", State(USER["roles"], "value"), State(USER["scopes"], "value"))
def save_access(
    call: CallContext, n_clicks: object, user: object, roles: object, scopes: object
) -> tuple[Any, Any]:
    """Make the user's roles and scopes exactly the ones ticked (audited before/after)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    user_id = params.record_id(user, "a user")
    role_ids = params.id_list(roles, "role")
    unit_ids = params.id_list(scopes, "scope")
    call.detail = {"user": user_id}
    with write_session() as session:
        changed = admin.set_access(session, call.principal, user_id, role_ids, unit_ids)
    call.rows = 1
    message = (
        "Saved: the user has this access from their next request."
        if changed
        else ("Nothing to change.")
    )
    return done(message), utc_now().isoformat()


@_action("reset")
def reset_password(call: CallContext, n_clicks: object, user: object) -> tuple[Any, Any]:
    """A one-time link for the user to choose a new password, shown once."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    user_id = params.record_id(user, "a user")
    call.detail = {"user": user_id}
    now = utc_now()
    ttl = dt.timedelta(seconds=current_services().settings.reset_link_ttl_s)
    base = _link_base()
    with write_session() as session:
        token = admin.reset_link(session, call.principal, user_id, now, ttl)
    call.rows = 1
    return link_shown(_link_url(base, token), "Password-reset", when(now + ttl)), now.isoformat()


@_action("deactivate")
def deactivate_user(call: CallContext, n_clicks: object, user: object) -> tuple[Any, Any]:
    """Deactivate the user and end every session of theirs, in one transaction."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    user_id = params.record_id(user, "a user")
    call.detail = {"user": user_id}
    with write_session() as session:
        admin.set_active(session, call.principal, user_id, False, utc_now())
        sessions.end_all_sessions(session, user_id, "deactivated", actor_of(call.principal))
    call.rows = 1
    return done("Deactivated: their sessions have ended."), utc_now().isoformat()


@_action("reactivate")
def reactivate_user(call: CallContext, n_clicks: object, user: object) -> tuple[Any, Any]:
    """Let the user sign in again (with their password, or a reset link)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    user_id = params.record_id(user, "a user")
    call.detail = {"user": user_id}
    with write_session() as session:
        admin.set_active(session, call.principal, user_id, True, utc_now())
    call.rows = 1
    return done("Reactivated: they can sign in again."), utc_now().isoformat()


def _create_refused(error: UserFacingError) -> tuple[Any, Any, Any]:
    return error_view(error), dash.no_update, dash.no_update


@dash.callback(
    Output(NEW["create-result"], "children"),
    Output(DONE["create"], "data"),
    Output(NEW["password"], "value"),
    Input(NEW["create"], "n_clicks"),
    *(State(NEW[key], "value") for key in ("email", "name", "roles", "scopes", "mode", "password")),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_create_refused)
def create_account(
    call: CallContext,
    /,
    n_clicks: object,
    email: object,
    name: object,
    roles: object,
    scopes: object,
    mode: object,
    password: object,
) -> tuple[Any, Any, Any]:
    """Create the user with a password, or with an invitation link shown once."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update, dash.no_update
    with_password = mode == MODE_PASSWORD
    new = admin.NewAccount(
        email=params.text(email, "e-mail address", 254),
        display_name=params.text(name, "name", 200),
        role_ids=tuple(params.id_list(roles, "role")),
        unit_ids=tuple(params.id_list(scopes, "scope")),
        password=params.password(password) if with_password else None,
    )
    now = utc_now()
    ttl = dt.timedelta(seconds=current_services().settings.invite_link_ttl_s)
    base = _link_base()
    with write_session() as session:
        created = admin.create_account(session, call.principal, new, now, ttl)
    call.rows = 1
    call.detail = {"user": created.user_id}
    link = html.Div(dash.dcc.Link(f"Open {new.email.strip()}", href=user_href(created.user_id)))
    if created.invite_token is None:
        shown = html.Div([done(f"Created {new.email.strip()}: they can sign in now."), link])
    else:
        url = _link_url(base, created.invite_token)
        shown = html.Div([link_shown(url, "Invitation", when(now + ttl)), link])
    return shown, now.isoformat(), ""
