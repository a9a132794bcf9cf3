"""The org tree page (admin console): the units in the admin's scope, created, renamed, moved,
deactivated and reactivated.

Needs ``catalog:manage``; every unit named (and every new parent) must lie in the admin's
scope, checked again by each callback. A move or a (de)activation first shows what it affects
and applies only when confirmed; the confirmation re-checks everything, so a forged pending
action is no more than the same action asked directly. Every change is audited
(docs/admin.md, The org tree).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, html

from dashboard.admin import users_params as up
from dashboard.admin.org import (
    ACTIONS,
    IDS,
    ORG_PATH,
    change_form,
    create_form,
    impact_view,
    note,
    tree_view,
    unit_options,
)
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common import params
from dashboard.common.look import refusal
from models.admin import org as admin
from models.enums import OrgLevel
from models.permissions import AccessDenied, Permission
from models.queries.admin.org import org_tree, tree_unit, unit_impact

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=ORG_PATH,
    name="Org tree",
    title="Northstar · Org tree",
    permission=Permission.CATALOG_MANAGE.value,
    nav_group="Admin",
    order=55,
)

PAGE = "admin-org"
MANAGE = Permission.CATALOG_MANAGE


def layout(**_query: Any) -> html.Div:
    """The tree and the forms; the guarded callbacks read, check and write everything."""
    try:
        current_principal().require(MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return html.Div(
        [
            html.H1("Org tree", className="h3"),
            html.P(
                "The org units in your scope. A deactivated unit keeps its history, leaves the "
                "pickers and takes no new events.",
                className="text-muted small",
            ),
            html.Div(
                [
                    html.Div(html.Div(id=IDS["tree"]), className="col-md-6"),
                    html.Div([create_form(), change_form()], className="col-md-6"),
                ],
                className="row",
            ),
        ]
    )


def _tree_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), [], [], []


@dash.callback(
    Output(IDS["tree"], "children"),
    Output(IDS["parent"], "options"),
    Output(IDS["unit"], "options"),
    Output(IDS["move-to"], "options"),
    Input(IDS["created"], "data"),
    Input(IDS["renamed"], "data"),
    Input(IDS["applied"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_tree_refused)
def org_tree_view(call: CallContext, *_changed: object) -> tuple[Any, ...]:
    """The tree in scope, and the units each picker offers (active ones only as parents)."""
    with read_connection() as connection:
        units = org_tree(connection, call.principal)
    call.rows = len(units)
    active = unit_options(units, active_only=True)
    return tree_view(units), active, unit_options(units, active_only=False), active


def _refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), dash.no_update


@dash.callback(
    Output(IDS["create-note"], "children"),
    Output(IDS["created"], "data"),
    Input(IDS["create"], "n_clicks"),
    State(IDS["parent"], "value"),
    State(IDS["key"], "value"),
    State(IDS["name"], "value"),
    State(IDS["level"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_refused)
def create_org_unit(
    call: CallContext, n_clicks: object, parent: object, key: object, name: object, level: object
) -> tuple[Any, ...]:
    """A new unit under a unit in scope (audited ``org_unit.create``)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    parent_id = params.record_id(parent, "the parent unit")
    unit_key = params.key(key, "unit")
    unit_name = up.text(name, "name", 200)
    unit_level = up.one_of(level, OrgLevel, "level")
    with write_session() as session:
        unit = admin.create_unit(
            session, call.principal, parent_id, unit_key, unit_name, unit_level
        )
        created = {"unit": unit.key, "id": unit.id}
    call.detail = {"unit": unit_key}
    return note(f"Created {unit_name.strip()} ({unit_key})."), created


@dash.callback(
    Output(IDS["rename-note"], "children"),
    Output(IDS["renamed"], "data"),
    Input(IDS["rename"], "n_clicks"),
    State(IDS["unit"], "value"),
    State(IDS["new-name"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_refused)
def rename_org_unit(
    call: CallContext, n_clicks: object, unit: object, name: object
) -> tuple[Any, ...]:
    """Rename a unit in scope (audited ``org_unit.update``)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    unit_id = params.record_id(unit, "the unit")
    new_name = up.text(name, "name", 200)
    with write_session() as session:
        changed = admin.rename_unit(session, call.principal, unit_id, new_name)
    call.detail = {"unit": unit_id}
    if not changed:
        return note("The name is unchanged."), dash.no_update
    return note(f"Renamed to {new_name.strip()}."), {"unit": unit_id, "n": n_clicks}


def _pending(action: object, unit: object, move_to: object) -> dict[str, Any]:
    """The change asked for, checked for shape (scope is checked by the reads and writes)."""
    chosen = params.option(action, ACTIONS, "")
    if not chosen:
        raise ValueError("choose move, deactivate or reactivate")
    unit_id = params.record_id(unit, "the unit")
    parent_id = params.record_id(move_to, "the new parent") if chosen == "move" else None
    return {"action": chosen, "unit": unit_id, "parent": parent_id}


@dash.callback(
    Output(IDS["impact"], "children"),
    Output(IDS["pending"], "data"),
    Input(IDS["preview"], "n_clicks"),
    State(IDS["action"], "value"),
    State(IDS["unit"], "value"),
    State(IDS["move-to"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), None))
def preview_org_change(
    call: CallContext, n_clicks: object, action: object, unit: object, move_to: object
) -> tuple[Any, ...]:
    """What a move or (de)activation would affect; nothing is written."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    pending = _pending(action, unit, move_to)
    with read_connection() as connection:
        target = None
        if pending["parent"] is not None:
            target = tree_unit(connection, call.principal, pending["parent"])
        impact = unit_impact(
            connection, call.principal, pending["unit"], target.path if target else None
        )
    call.rows = impact.units
    return impact_view(pending["action"], impact, target), pending


@dash.callback(
    Output(IDS["confirm-note"], "children"),
    Output(IDS["applied"], "data"),
    Input(IDS["confirm"], "n_clicks"),
    State(IDS["pending"], "data"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_refused)
def apply_org_change(call: CallContext, n_clicks: object, pending: object) -> tuple[Any, ...]:
    """Apply the change shown; the unit and the new parent are checked again."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    if not isinstance(pending, dict) or not pending:
        raise ValueError("show what the change affects first, then confirm")
    asked = _pending(pending.get("action"), pending.get("unit"), pending.get("parent"))
    unit_id, action = asked["unit"], asked["action"]
    with write_session() as session:
        if action == "move":
            admin.move_unit(session, call.principal, unit_id, asked["parent"])
            message = "Moved."
        else:
            count = admin.set_unit_active(session, call.principal, unit_id, action == "reactivate")
            message = f"{ACTIONS[action]}d {count} unit(s)."
    call.detail = asked
    return note(message), {**asked, "n": n_clicks}
