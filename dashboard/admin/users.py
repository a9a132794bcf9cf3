"""The admin users page's parts: filters, the users table, one user's panel, the create form
(pure: data in, components out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import HIDDEN, when
from models.queries.admin.users import RoleOption, UnitOption, UserDetail, UserRow, UserStatus

USERS_PATH = "/admin/users"
STATUS_LABELS = {
    UserStatus.ALL: "All",
    UserStatus.ACTIVE: "Active",
    UserStatus.INVITED: "Invited",
    UserStatus.DEACTIVATED: "Deactivated",
}
MODE_INVITE, MODE_PASSWORD = "invite", "password"
ANY_ROLE = "any"


def user_href(user_id: int) -> str:
    return f"{USERS_PATH}?{urlencode({'user': user_id})}"


def role_choices(roles: Sequence[RoleOption]) -> list[dict[str, Any]]:
    """Checklist options: roles the admin may not grant are shown, disabled."""
    return [
        {
            "label": f"{r.name}{'' if r.builtin else ' (custom)'}",
            "value": r.id,
            "disabled": not r.grantable,
        }
        for r in roles
    ]


def unit_choices(units: Sequence[UnitOption]) -> list[dict[str, Any]]:
    """Dropdown options in tree order, indented by depth."""
    indent = "\u2002\u2002"  # en spaces: the tree shows without marks in the chosen chips
    return [{"label": f"{indent * u.depth}{u.name}", "value": u.id, "search": u.key} for u in units]


def _field(label: str, control_id: str, control: Any) -> html.Div:
    return html.Div(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control],
        className="mb-2",
    )


def filters(ids: Mapping[str, str], roles: Sequence[RoleOption]) -> dbc.Row:
    role_options = [{"label": "Any role", "value": ANY_ROLE}] + [
        {"label": r.name, "value": str(r.id)} for r in roles
    ]
    status_options = [{"label": label, "value": s.value} for s, label in STATUS_LABELS.items()]
    return dbc.Row(
        [
            dbc.Col(
                _field(
                    "Search",
                    ids["search"],
                    dbc.Input(
                        id=ids["search"],
                        value="",
                        debounce=True,
                        maxlength=100,
                        placeholder="e-mail or name",
                    ),
                ),
                md=4,
            ),
            dbc.Col(
                _field(
                    "Role",
                    ids["role"],
                    dbc.Select(id=ids["role"], options=role_options, value=ANY_ROLE),
                ),
                md=3,
            ),
            dbc.Col(
                _field(
                    "Status",
                    ids["status"],
                    dbc.Select(id=ids["status"], options=status_options, value=UserStatus.ALL),
                ),
                md=3,
            ),
        ],
        className="g-2",
    )


def status_text(row: UserRow) -> str:
    """Icon and word, never colour alone."""
    if not row.is_active:
        return "✖ Deactivated"
    return "✔ Active" if row.password_set else "✉ Invited"


def users_table(rows: Sequence[UserRow], limit: int) -> html.Div:
    if not rows:
        return html.Div(html.P("No user matches these filters.", className="text-muted"))
    head = html.Thead(
        html.Tr(
            [html.Th(c) for c in ("User", "E-mail", "Status", "Roles", "Scopes", "Last sign-in")]
        )
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(dcc.Link(r.name, href=user_href(r.id), id=f"admin-user-link-{r.id}")),
                    html.Td(r.email),
                    html.Td(status_text(r)),
                    html.Td(", ".join(r.roles) or "—"),
                    html.Td(", ".join(r.scopes) or "—"),
                    html.Td(when(r.last_login_at)),
                ]
            )
            for r in rows
        ]
    )
    more = (
        html.P(f"Showing the first {limit}; narrow the filters.", className="small text-muted")
        if len(rows) >= limit
        else None
    )
    table = dbc.Table([head, body], size="sm", hover=True, responsive=True, id="admin-users-rows")
    return html.Div([table, more])


def user_info(detail: UserDetail) -> html.Div:
    row = detail.row
    facts: list[Any] = [
        html.Dt("E-mail", className="col-sm-3"),
        html.Dd(row.email, className="col-sm-9 mb-1"),
        html.Dt("Status", className="col-sm-3"),
        html.Dd(status_text(row), className="col-sm-9 mb-1", id="admin-user-status"),
        html.Dt("Created", className="col-sm-3"),
        html.Dd(when(row.created_at), className="col-sm-9 mb-1"),
        html.Dt("Last sign-in", className="col-sm-3"),
        html.Dd(when(row.last_login_at), className="col-sm-9 mb-1"),
    ]
    if detail.open_link is not None:
        what = "Invitation" if detail.open_link == "invite" else "Password reset"
        facts += [
            html.Dt("Open link", className="col-sm-3"),
            html.Dd(
                f"{what} link, valid until {when(detail.open_link_expires_at)}",
                className="col-sm-9 mb-1",
            ),
        ]
    return html.Div([html.H2(row.name, className="h5"), html.Dl(facts, className="row small mb-2")])


def _button(ids: Mapping[str, str], action: str, label: str, color: str) -> html.Div:
    return html.Div(
        [
            dbc.Button(label, id=ids[action], color=color, n_clicks=0, size="sm"),
            html.Div(id=ids[f"{action}-result"], className="small mt-1", role="status"),
        ],
        className="mb-2",
    )


def user_panel(
    ids: Mapping[str, str], roles: Sequence[RoleOption], units: Sequence[UnitOption]
) -> dbc.Card:
    """The selected user's facts, their access form and the account actions.

    ``ids``: info, roles, scopes, save, deactivate, reactivate, reset and each action's
    ``<action>-result``.
    """
    return dbc.Card(
        [
            dbc.CardHeader("Selected user"),
            dbc.CardBody(
                [
                    html.Div(id=ids["info"]),
                    html.H3("Roles and scopes", className="h6"),
                    _field(
                        "Roles",
                        ids["roles"],
                        dbc.Checklist(id=ids["roles"], options=role_choices(roles), value=[]),
                    ),
                    _field(
                        "Scopes (org-unit subtrees)",
                        ids["scopes"],
                        dcc.Dropdown(
                            id=ids["scopes"], options=unit_choices(units), value=[], multi=True
                        ),
                    ),
                    _button(ids, "save", "Save roles and scopes", "primary"),
                    html.H3("Account", className="h6 mt-3"),
                    _button(ids, "reset", "Make a password-reset link", "secondary"),
                    _button(ids, "deactivate", "Deactivate (ends their sessions)", "danger"),
                    _button(ids, "reactivate", "Reactivate", "success"),
                ]
            ),
        ],
        class_name="mb-3",
    )


def create_form(
    ids: Mapping[str, str], roles: Sequence[RoleOption], units: Sequence[UnitOption]
) -> dbc.Card:
    """Create a user with a password, or invite them with a one-time link.

    ``ids``: email, name, roles, scopes, mode, password, create, create-result.
    """
    modes = [
        {"label": "Invite with a one-time link (they choose a password)", "value": MODE_INVITE},
        {"label": "Set a password now", "value": MODE_PASSWORD},
    ]
    return dbc.Card(
        [
            dbc.CardHeader("New user"),
            dbc.CardBody(
                [
                    _field(
                        "E-mail",
                        ids["email"],
                        dbc.Input(id=ids["email"], type="email", value="", maxlength=254),
                    ),
                    _field("Name", ids["name"], dbc.Input(id=ids["name"], value="", maxlength=200)),
                    _field(
                        "Roles",
                        ids["roles"],
                        dbc.Checklist(id=ids["roles"], options=role_choices(roles), value=[]),
                    ),
                    _field(
                        "Scopes (org-unit subtrees)",
                        ids["scopes"],
                        dcc.Dropdown(
                            id=ids["scopes"], options=unit_choices(units), value=[], multi=True
                        ),
                    ),
                    dbc.RadioItems(
                        id=ids["mode"], options=modes, value=MODE_INVITE, class_name="mb-2"
                    ),
                    _field(
                        "Password (when set now; at least 12 characters)",
                        ids["password"],
                        dbc.Input(
                            id=ids["password"],
                            type="password",
                            value="",
                            autocomplete="new-password",
                        ),
                    ),
                    _button(ids, "create", "Create user", "primary"),
                ]
            ),
        ],
        class_name="mb-3",
    )


def link_shown(url: str, purpose: str, expires: str) -> html.Div:
    """A one-time link, shown once: copy it now and hand it over."""
    return html.Div(
        [
            html.Div(
                [html.Span("✔ ", **HIDDEN), f"{purpose} link made, valid until {expires}. "],
            ),
            html.Div("It is shown only now: copy it and give it to the user.", className="mb-1"),
            dbc.Input(value=url, readonly=True, id="admin-link-url", size="sm"),
        ],
        className="alert alert-success py-1 px-2 mb-0",
    )


def done(message: str) -> html.Div:
    return html.Div(message, className="alert alert-success py-1 px-2 mb-0")
