"""Admin console, roles: every role's permission set, custom roles created and edited
(``user:manage``, checked in the layout and every callback).

Built-in roles are shown read-only (models/admin/roles.py says why). A change to a custom
role applies to its holders at their next request: permissions are read again on each one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, State, html

from dashboard.admin import users_params as params
from dashboard.admin.roles import (
    ROLES_PATH,
    create_form,
    edit_form,
    matrix,
    permission_choices,
    role_options,
)
from dashboard.admin.users import done
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common.look import refusal
from models.admin import roles as admin
from models.permissions import AccessDenied, Permission
from models.queries.admin.roles import get_role, list_roles

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=ROLES_PATH,
    name="Roles",
    title="Northstar · Roles",
    permission=Permission.USER_MANAGE.value,
    nav_group="Admin",
    order=41,
)

PAGE = "admin-roles"
MATRIX_ID = "admin-roles-matrix"
EDIT = {
    key: f"admin-role-{key}"
    for key in ("pick", "name", "description", "permissions", "note", "save")
} | {"save-result": "admin-role-save-result"}
NEW = {key: f"admin-role-new-{key}" for key in ("key", "name", "description", "permissions")} | {
    "create": "admin-role-create",
    "create-result": "admin-role-create-result",
}
DONE = {action: f"admin-roles-done-{action}" for action in ("create", "save")}


def layout(**_query: Any) -> html.Div:
    """The matrix, the view/edit form and the create form."""
    try:
        principal = current_principal()
        principal.require(Permission.USER_MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    with read_connection() as connection:
        roles = list_roles(connection, principal)
    return html.Div(
        [
            *(dash.dcc.Store(id=store) for store in DONE.values()),
            html.H1("Roles", className="h3"),
            html.P(
                "Built-in roles ship with Northstar and are read-only; create a custom role "
                "for another set. Changes apply to holders at their next request.",
                className="text-muted small",
            ),
            html.Div(matrix(roles), id=MATRIX_ID),
            html.Div(
                [
                    html.Div(edit_form(EDIT, roles), className="col-lg-6"),
                    html.Div(create_form(NEW, principal.permissions), className="col-lg-6"),
                ],
                className="row",
            ),
        ]
    )


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _matrix_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), dash.no_update


@dash.callback(
    Output(MATRIX_ID, "children"),
    Output(EDIT["pick"], "options"),
    *(Input(store, "data") for store in DONE.values()),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_matrix_refused)
def roles_matrix(call: CallContext, /, *_done: object) -> tuple[Any, Any]:
    """The matrix and the role picker, read again after a role was created or saved."""
    with read_connection() as connection:
        roles = list_roles(connection, call.principal)
    call.rows = len(roles)
    return matrix(roles), role_options(roles)


def _form_refused(error: UserFacingError) -> tuple[Any, ...]:
    return "", "", [], [], True, error_view(error)


@dash.callback(
    Output(EDIT["name"], "value"),
    Output(EDIT["description"], "value"),
    Output(EDIT["permissions"], "options"),
    Output(EDIT["permissions"], "value"),
    Output(EDIT["save"], "disabled"),
    Output(EDIT["note"], "children"),
    Input(EDIT["pick"], "value"),
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_form_refused)
def role_form(call: CallContext, /, pick: object) -> tuple[Any, ...]:
    """The picked role's name, description and permissions; editable for custom roles."""
    role_id = params.optional_id(pick, "a role")
    if role_id is None:
        return "", "", permission_choices(frozenset(), read_only=True), [], True, ""
    with read_connection() as connection:
        role = get_role(connection, call.principal, role_id)
    call.rows = 1
    call.detail = {"role": role.key}
    held = call.principal.permissions
    read_only = role.builtin or role.outside > 0
    if role.builtin:
        note = "Built-in role: read-only. Create a custom role for a different set."
    elif role.outside:
        note = f"Read-only for you: {admin.outside_message(role.outside)}."
    else:
        note = f"Custom role ({role.key}), held by {role.holders} active user(s)."
    return (
        role.name,
        role.description,
        permission_choices(held, read_only=read_only),
        sorted(p.value for p in role.permissions),
        read_only,
        note,
    )


def _action_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), dash.no_update


@dash.callback(
    Output(NEW["create-result"], "children"),
    Output(DONE["create"], "data"),
    Input(NEW["create"], "n_clicks"),
    *(State(NEW[key], "value") for key in ("key", "name", "description", "permissions")),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_action_refused)
def create_custom_role(
    call: CallContext,
    /,
    n_clicks: object,
    key: object,
    name: object,
    description: object,
    permissions: object,
) -> tuple[Any, Any]:
    """A new custom role with the ticked permissions (audited)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    with write_session() as session:
        admin.create_role(
            session,
            call.principal,
            params.text(key, "key", 64),
            params.text(name, "name", 100),
            params.text(description, "description", 500),
            params.permissions(permissions),
        )
    call.rows = 1
    return done("Role created: assign it on the Users page."), _stamp()


@dash.callback(
    Output(EDIT["save-result"], "children"),
    Output(DONE["save"], "data"),
    Input(EDIT["save"], "n_clicks"),
    *(State(EDIT[key], "value") for key in ("pick", "name", "description", "permissions")),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_action_refused)
def update_custom_role(
    call: CallContext,
    /,
    n_clicks: object,
    pick: object,
    name: object,
    description: object,
    permissions: object,
) -> tuple[Any, Any]:
    """Save the picked custom role's name, description and permissions (audited)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    role_id = params.record_id(pick, "a role")
    call.detail = {"role": role_id}
    with write_session() as session:
        changed = admin.update_role(
            session,
            call.principal,
            role_id,
            params.text(name, "name", 100),
            params.text(description, "description", 500),
            params.permissions(permissions),
        )
    call.rows = 1
    message = "Saved: holders get this set at their next request." if changed else "No change."
    return done(message), _stamp()
