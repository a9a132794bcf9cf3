"""The org tree page's pieces: component ids, the tree, the forms and the impact summary.

Pure builders: they take rows from ``models.queries.admin.org`` and return components.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from models.enums import OrgLevel
from models.queries.admin.org import MAX_NAMES, Impact, TreeUnit

ORG_PATH = "/admin/org"
IDS = {
    name: f"admin-org-{name}"
    for name in (
        "tree",
        "parent",
        "key",
        "name",
        "level",
        "create",
        "create-note",
        "created",
        "unit",
        "new-name",
        "rename",
        "rename-note",
        "renamed",
        "action",
        "move-to",
        "preview",
        "impact",
        "pending",
        "confirm",
        "confirm-note",
        "applied",
    )
}
ACTIONS = {"move": "Move", "deactivate": "Deactivate", "reactivate": "Reactivate"}


def tree_view(units: list[TreeUnit]) -> html.Div | html.P:
    """The units in tree order, indented by depth; deactivated ones marked in words."""
    if not units:
        return html.P("No org unit in your scope.", className="text-muted")
    items = []
    for unit in units:
        badge = [" ", dbc.Badge("deactivated", color="secondary")] if not unit.active else []
        items.append(
            html.Li(
                [
                    html.Span(unit.name, className="fw-semibold" if unit.active else "text-muted"),
                    html.Span(f" ({unit.key}, {unit.level.value})", className="small"),
                    *badge,
                ],
                style={"paddingLeft": f"{unit.depth * 1.5}rem"},
                className="list-unstyled",
            )
        )
    return html.Div(html.Ul(items, className="list-unstyled mb-0"))


def unit_options(units: list[TreeUnit], *, active_only: bool) -> list[dict[str, Any]]:
    return [
        {
            "label": f"{'· ' * u.depth}{u.name} ({u.key}){'' if u.active else ' (deactivated)'}",
            "value": u.id,
        }
        for u in units
        if u.active or not active_only
    ]


def _field(label: str, component: Any) -> html.Div:
    return html.Div(
        [html.Label(label, className="form-label small mb-0"), component], className="mb-2"
    )


def create_form() -> html.Div:
    return html.Div(
        [
            html.H2("New unit", className="h5"),
            _field("Under", dcc.Dropdown(id=IDS["parent"], options=[])),
            _field("Key", dcc.Input(id=IDS["key"], type="text", className="form-control")),
            _field("Name", dcc.Input(id=IDS["name"], type="text", className="form-control")),
            _field(
                "Level",
                dcc.Dropdown(
                    id=IDS["level"],
                    options=[{"label": lv.value, "value": lv.value} for lv in OrgLevel],
                    value=OrgLevel.BUSINESS_UNIT.value,
                ),
            ),
            html.Button("Create", id=IDS["create"], className="btn btn-primary btn-sm"),
            html.Div(id=IDS["create-note"], className="mt-2"),
            dcc.Store(id=IDS["created"]),
        ],
        className="mb-4",
    )


def change_form() -> html.Div:
    return html.Div(
        [
            html.H2("Change a unit", className="h5"),
            _field("Unit", dcc.Dropdown(id=IDS["unit"], options=[])),
            _field(
                "New name", dcc.Input(id=IDS["new-name"], type="text", className="form-control")
            ),
            html.Button("Rename", id=IDS["rename"], className="btn btn-secondary btn-sm mb-2"),
            html.Div(id=IDS["rename-note"]),
            dcc.Store(id=IDS["renamed"]),
            _field(
                "Or",
                dcc.RadioItems(
                    id=IDS["action"],
                    options=[{"label": f" {v}", "value": k} for k, v in ACTIONS.items()],
                    value="move",
                    inline=True,
                    inputClassName="ms-2",
                ),
            ),
            _field("Move under", dcc.Dropdown(id=IDS["move-to"], options=[])),
            html.Button(
                "Show what it affects", id=IDS["preview"], className="btn btn-secondary btn-sm"
            ),
            html.Div(id=IDS["impact"], className="mt-2"),
            dcc.Store(id=IDS["pending"]),
            html.Button("Confirm", id=IDS["confirm"], className="btn btn-warning btn-sm mt-2"),
            html.Div(id=IDS["confirm-note"], className="mt-2"),
            dcc.Store(id=IDS["applied"]),
        ]
    )


def _names(label: str, names: tuple[str, ...]) -> html.Li:
    more = " (and more)" if len(names) >= MAX_NAMES else ""
    shown = ", ".join(names) + more if names else "none"
    return html.Li(f"{label}: {shown}")


def impact_view(action: str, impact: Impact, target: TreeUnit | None) -> html.Div:
    """What the change touches, and the button that applies it."""
    unit = impact.unit
    what = {
        "move": f"Move {unit.name} under {target.name if target else '?'}",
        "deactivate": f"Deactivate {unit.name}",
        "reactivate": f"Reactivate {unit.name}",
    }[action]
    items = [
        html.Li(f"Units changed: {impact.units} ({unit.name} and every unit below it)"),
        _names("Users whose scope names it or a unit below it", impact.users_here),
        _names("Sources it owns", impact.sources),
        _names("KPIs it owns", impact.kpis),
        html.Li(f"Target plans: {impact.target_plans}"),
        html.Li(f"Stored events below it: {impact.events}"),
    ]
    if action == "move":
        items.insert(
            2,
            _names(
                "Users who no longer see it (scope on an ancestor it leaves)", impact.users_losing
            ),
        )
    if action == "deactivate":
        items.append(html.Li("Its history stays; new events for these units are quarantined."))
    return html.Div(
        [
            html.P(what + "? This affects:", className="fw-semibold mb-1"),
            html.Ul(items, className="small mb-1"),
            html.P("Confirm below to apply it.", className="small mb-0"),
        ],
        className="border rounded p-2",
    )


def note(message: str) -> html.Div:
    return html.Div(message, role="status", className="alert alert-success mb-0")
