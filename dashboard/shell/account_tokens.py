"""The account page's personal access tokens: the create form, the list, the token shown once
(pure builders)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import html

from dashboard.common.look import when
from models.queries.tokens import TokenRow
from models.tokens import MAX_NAME, TOKEN_PREFIX

NEVER = "never"
EXPIRY_CHOICES = {"30": "in 30 days", "90": "in 90 days", "365": "in a year", NEVER: "never"}
DEFAULT_EXPIRY = "90"


def tokens_card(ids: Mapping[str, str]) -> dbc.Card:
    """The section: what tokens are for, the create form, the revoke choice and the list."""
    form = dbc.Row(
        [
            dbc.Col(
                dbc.Input(
                    id=ids["name"], placeholder="What it is for", maxLength=MAX_NAME, size="sm"
                ),
                md=5,
            ),
            dbc.Col(
                dbc.Select(
                    id=ids["expires"],
                    options=[
                        {"label": f"Expires {v}", "value": k} for k, v in EXPIRY_CHOICES.items()
                    ],
                    value=DEFAULT_EXPIRY,
                    size="sm",
                ),
                md=4,
            ),
            dbc.Col(dbc.Button("Create token", id=ids["create"], size="sm"), md=3),
        ],
        className="g-2 mb-2",
    )
    revoke = dbc.Row(
        [
            dbc.Col(dbc.Select(id=ids["choice"], options=[], size="sm"), md=9),
            dbc.Col(
                dbc.Button("Revoke", id=ids["revoke"], color="danger", outline=True, size="sm"),
                md=3,
            ),
        ],
        className="g-2 mb-2",
    )
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("Access tokens", className="h5"),
                html.P(
                    "A token lets a script read the KPIs you may see through the read API "
                    "(/api/v1/kpis), with your permissions and scope. It is shown once.",
                    className="text-secondary small",
                ),
                form,
                html.Div(id=ids["result"]),
                revoke,
                html.Div(id=ids["revoke-result"]),
                html.Div(id=ids["list"]),
            ]
        ),
        className="mt-3",
    )


def shown_once(token: str, expires_at: dt.datetime | None) -> html.Div:
    """The new token: shown only now."""
    until = "It never expires." if expires_at is None else f"It expires {when(expires_at)}."
    return html.Div(
        [
            html.Div(f"Token created. {until} Copy it now: it is not shown again."),
            dbc.Input(value=token, readonly=True, id="account-token-value", size="sm"),
        ],
        className="alert alert-success py-1 px-2 mb-2",
    )


def token_label_of(name: str, prefix: str) -> str:
    return f"{name} ({TOKEN_PREFIX}{prefix}_…)"


def token_label(row: TokenRow) -> str:
    return token_label_of(row.name, row.prefix)


def revoke_options(rows: Sequence[TokenRow], now: dt.datetime) -> list[dict[str, object]]:
    return [
        {"label": token_label(row), "value": row.id} for row in rows if row.state(now) == "active"
    ]


def token_table(rows: Sequence[TokenRow], now: dt.datetime) -> html.Div:
    """The user's tokens (never the token itself)."""
    if not rows:
        return html.Div(html.P("You have no access tokens.", className="mb-0"))
    head = html.Thead(
        html.Tr([html.Th(t) for t in ("Name", "Token", "State", "Created", "Expires", "Last used")])
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(row.name),
                    html.Td(f"{TOKEN_PREFIX}{row.prefix}_…"),
                    html.Td(row.state(now)),
                    html.Td(when(row.created_at)),
                    html.Td(when(row.expires_at) if row.expires_at else "never"),
                    html.Td(when(row.last_used_at)),
                ]
            )
            for row in rows
        ]
    )
    return html.Div(dbc.Table([head, body], size="sm", className="mb-0"), id="account-token-rows")
