"""The admin roles page's parts: the matrix of roles and permissions and the role forms (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from dashboard.common.look import HIDDEN
from models.permissions import Permission
from models.queries.admin.roles import RoleView

ROLES_PATH = "/admin/roles"
PERMISSION_TEXT: dict[Permission, str] = {
    Permission.KPI_VIEW: "see KPI tiles, trends and breakdowns of their scope",
    Permission.EVENT_VIEW: "see the events behind a number (confidential fields too)",
    Permission.PII_VIEW: "see personal data unmasked (with event:view)",
    Permission.INCIDENT_MANAGE: "work data-quality incidents (steward console)",
    Permission.QUARANTINE_MANAGE: "replay or discard quarantined records",
    Permission.ALERT_MANAGE: "create and edit alert rules",
    Permission.SOURCE_MANAGE: "manage sources, contracts and their API keys",
    Permission.USER_MANAGE: "manage users, roles and access reviews",
    Permission.AUDIT_VIEW: "read the access and audit logs",
    Permission.CATALOG_MANAGE: "edit KPI definitions, the org tree and target plans of their scope",
}


def permission_choices(
    held: frozenset[Permission], *, read_only: bool = False
) -> list[dict[str, Any]]:
    """Checklist options, one per permission with what it allows; those the admin does not
    hold (or all, for a read-only role) are disabled."""
    return [
        {
            "label": f"{p.value} — {PERMISSION_TEXT[p]}",
            "value": p.value,
            "disabled": read_only or p not in held,
        }
        for p in Permission
    ]


def role_label(role: RoleView) -> str:
    return f"{role.name} ({'built-in' if role.builtin else 'custom'})"


def role_options(roles: Sequence[RoleView]) -> list[dict[str, str]]:
    return [{"label": role_label(r), "value": str(r.id)} for r in roles]


def matrix(roles: Sequence[RoleView]) -> html.Div:
    """Each role's permission set (✔ or —), with its kind and holders."""
    head = html.Thead(
        html.Tr(
            [
                html.Th("Role"),
                html.Th("Kind"),
                html.Th("Active holders"),
                *(
                    html.Th(p.value, title=PERMISSION_TEXT[p], className="small")
                    for p in Permission
                ),
            ]
        )
    )
    rows = [
        html.Tr(
            [
                html.Td(
                    [html.Strong(r.name), html.Div(r.description, className="small text-muted")]
                ),
                html.Td("Built-in" if r.builtin else "Custom"),
                html.Td(str(r.holders)),
                *(
                    html.Td(
                        [html.Span("✔", **HIDDEN), html.Span(" yes", className="visually-hidden")]
                        if p in r.permissions
                        else [
                            html.Span("—", **HIDDEN),
                            html.Span(" no", className="visually-hidden"),
                        ],
                        className="text-center",
                    )
                    for p in Permission
                ),
            ],
            id=f"admin-role-row-{r.key}",
        )
        for r in roles
    ]
    table = dbc.Table([head, html.Tbody(rows)], size="sm", bordered=True, responsive=True)
    return html.Div(table, id="admin-roles-table")


def _field(label: str, control_id: str, control: Any) -> html.Div:
    return html.Div(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control],
        className="mb-2",
    )


def _result(ids: Mapping[str, str], action: str, label: str) -> html.Div:
    return html.Div(
        [
            dbc.Button(label, id=ids[action], color="primary", n_clicks=0, size="sm"),
            html.Div(id=ids[f"{action}-result"], className="small mt-1", role="status"),
        ],
        className="mb-2",
    )


def edit_form(ids: Mapping[str, str], roles: Sequence[RoleView]) -> dbc.Card:
    """Pick a role to see its set; custom roles can be edited. ``ids``: pick, name,
    description, permissions, note, save, save-result."""
    options = role_options(roles)
    return dbc.Card(
        [
            dbc.CardHeader("View or edit a role"),
            dbc.CardBody(
                [
                    _field(
                        "Role",
                        ids["pick"],
                        dbc.Select(id=ids["pick"], options=options, placeholder="Choose a role"),
                    ),
                    html.Div(id=ids["note"], className="small text-muted mb-2"),
                    _field("Name", ids["name"], dbc.Input(id=ids["name"], value="", maxlength=100)),
                    _field(
                        "Description",
                        ids["description"],
                        dbc.Input(id=ids["description"], value="", maxlength=500),
                    ),
                    _field(
                        "Permissions",
                        ids["permissions"],
                        dbc.Checklist(id=ids["permissions"], options=[], value=[]),
                    ),
                    _result(ids, "save", "Save role"),
                ]
            ),
        ],
        class_name="mb-3",
    )


def create_form(ids: Mapping[str, str], held: frozenset[Permission]) -> dbc.Card:
    """A new custom role. ``ids``: key, name, description, permissions, create, create-result."""
    return dbc.Card(
        [
            dbc.CardHeader("New custom role"),
            dbc.CardBody(
                [
                    _field(
                        "Key (lower-case letters, digits, - or _)",
                        ids["key"],
                        dbc.Input(id=ids["key"], value="", maxlength=64),
                    ),
                    _field("Name", ids["name"], dbc.Input(id=ids["name"], value="", maxlength=100)),
                    _field(
                        "Description",
                        ids["description"],
                        dbc.Input(id=ids["description"], value="", maxlength=500),
                    ),
                    _field(
                        "Permissions",
                        ids["permissions"],
                        dbc.Checklist(
                            id=ids["permissions"], options=permission_choices(held), value=[]
                        ),
                    ),
                    _result(ids, "create", "Create role"),
                ]
            ),
        ],
        class_name="mb-3",
    )
