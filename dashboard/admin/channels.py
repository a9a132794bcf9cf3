"""The notification channels admin page's parts (pure): ids, forms, the channel and delivery
tables, and the parsers of what the browser sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import HIDDEN, Look, look_badge, when
from models.channels import ChannelKind, DeliveryStatus, masked_url
from models.queries.alerts.channels import ChannelRow, DeliveryRow

CHANNELS_PATH = "/admin/channels"
POLL_MS = 10_000
MAX_NAME_INPUT = 100
MAX_URL_INPUT = 2000

IDS = {
    "channels": "channels-list",
    "deliveries": "channels-deliveries",
    "poll": "channels-poll",
    "name": "channels-name",
    "kind": "channels-kind",
    "url": "channels-url",
    "create": "channels-create",
    "create-result": "channels-create-result",
    "pick": "channels-pick",
    "test": "channels-test",
    "test-result": "channels-test-result",
    "deactivate": "channels-deactivate",
    "deactivate-result": "channels-deactivate-result",
}
ACTIONS = ("create", "test", "deactivate")
DONE = {action: f"channels-{action}-done" for action in ACTIONS}
"""A store per action, changed after it succeeded: the lists are then read again."""

LIVE: dict[str, Any] = {"aria-live": "polite"}
"""Screen readers read an action's result when it appears."""
KIND_LABEL = {ChannelKind.JSON: "JSON", ChannelKind.SLACK: "Slack"}
STATUS_LOOK: dict[DeliveryStatus, Look] = {
    DeliveryStatus.PENDING: ("…", "Pending", "secondary"),
    DeliveryStatus.DELIVERED: ("✔", "Delivered", "success"),
    DeliveryStatus.FAILED: ("✗", "Failed", "danger"),
    DeliveryStatus.REFUSED: ("⛔", "Refused", "warning"),
}


def page_frame() -> html.Div:
    """The page: the channels, the forms to add and act on them, the recent deliveries."""
    return html.Div(
        [
            *(dcc.Store(id=store) for store in DONE.values()),
            dcc.Interval(id=IDS["poll"], interval=POLL_MS),
            html.H1("Notification channels", className="h3"),
            html.P(
                "Webhooks that alerts and reviews notify, signed with each channel's secret "
                "(see docs/notifications.md). E-mails go to people; their deliveries show below.",
                className="text-secondary small",
            ),
            html.Div(
                [
                    html.Div(
                        [html.H2("Channels", className="h5"), html.Div(id=IDS["channels"])],
                        className="col-lg-8",
                    ),
                    html.Div([create_form(), action_form()], className="col-lg-4"),
                ],
                className="row",
            ),
            html.H2("Recent deliveries", className="h5 mt-3"),
            html.Div(id=IDS["deliveries"]),
        ]
    )


def create_form() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("Add a webhook", className="h6"),
                dbc.Label("Name", html_for=IDS["name"]),
                dbc.Input(id=IDS["name"], maxLength=MAX_NAME_INPUT, class_name="mb-2"),
                dbc.Label("Format", html_for=IDS["kind"]),
                dbc.Select(
                    id=IDS["kind"],
                    options=[{"label": KIND_LABEL[k], "value": k.value} for k in ChannelKind],
                    value=ChannelKind.JSON.value,
                    class_name="mb-2",
                ),
                dbc.Label("URL", html_for=IDS["url"]),
                dbc.Input(
                    id=IDS["url"],
                    type="url",
                    placeholder="https://hooks.example.com/northstar",
                    maxLength=MAX_URL_INPUT,
                    class_name="mb-2",
                ),
                dbc.Button("Add", id=IDS["create"], color="primary", n_clicks=0),
                html.Div(id=IDS["create-result"], className="mt-2", **LIVE),
            ]
        ),
        class_name="mb-3",
    )


def action_form() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("Test or deactivate", className="h6"),
                dbc.Label("Channel", html_for=IDS["pick"]),
                dcc.Dropdown(id=IDS["pick"], options=[], className="mb-2"),
                dbc.Button(
                    "Send a test notice",
                    id=IDS["test"],
                    color="secondary",
                    n_clicks=0,
                    class_name="me-2",
                ),
                dbc.Button("Deactivate", id=IDS["deactivate"], color="danger", n_clicks=0),
                html.Div(id=IDS["test-result"], className="mt-2", **LIVE),
                html.Div(id=IDS["deactivate-result"], className="mt-2", **LIVE),
            ]
        ),
    )


def channel_options(channels: Sequence[ChannelRow]) -> list[dict[str, Any]]:
    """The active channels, for the test/deactivate choice."""
    return [{"label": c.name, "value": c.id} for c in channels if c.active]


def channel_table(channels: Sequence[ChannelRow]) -> html.Div | dbc.Table:
    if not channels:
        return html.P("No channel yet: add a webhook.", className="text-secondary")
    head = html.Thead(html.Tr([html.Th(t) for t in ("Name", "Format", "URL", "State", "Added")]))
    rows = [
        html.Tr(
            [
                html.Td(c.name),
                html.Td(KIND_LABEL[c.kind]),
                html.Td(html.Code(masked_url(c.url))),
                html.Td(_state(c)),
                html.Td(f"{when(c.created_at)} by {c.created_by or 'someone since removed'}"),
            ]
        )
        for c in channels
    ]
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, responsive=True)


def _state(channel: ChannelRow) -> Any:
    if channel.active:
        return look_badge(("●", "Active", "success"))
    return look_badge(
        ("○", "Inactive", "secondary"), title=f"deactivated {when(channel.deactivated_at)}"
    )


def delivery_table(deliveries: Sequence[DeliveryRow]) -> html.Div | dbc.Table:
    if not deliveries:
        return html.P("Nothing sent yet.", className="text-secondary")
    titles = ("#", "Created", "To", "Notice", "Status", "Attempts", "Next / done", "Last error")
    head = html.Thead(html.Tr([html.Th(t) for t in titles]))
    rows = [
        html.Tr(
            [
                html.Td(str(d.id)),
                html.Td(when(d.created_at)),
                html.Td([d.target, html.Span(f" ({d.via})", className="text-secondary")]),
                html.Td([html.Code(d.kind), " ", d.title]),
                html.Td(look_badge(STATUS_LOOK[d.status])),
                html.Td(str(d.attempts)),
                html.Td(when(d.delivered_at if d.delivered_at else d.next_attempt_at)),
                html.Td(d.last_error or "", className="small text-break"),
            ]
        )
        for d in deliveries
    ]
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, responsive=True)


def secret_once(name: str, secret: str) -> html.Div:
    """The new channel's secret: shown this once, never again."""
    return html.Div(
        [
            html.Span("✔ ", **HIDDEN),
            f"Channel {name} added. Its signing secret (copy it now, it is not shown again):",
            html.Pre(secret, className="mb-0 mt-1 user-select-all"),
        ],
        role="status",
        className="alert alert-success mb-0 small",
    )


def done(message: str) -> html.Div:
    return html.Div(
        [html.Span("✔ ", **HIDDEN), message], role="status", className="alert alert-success mb-0"
    )


# --- what the browser sends ------------------------------------------------------------------


def text_input(value: object, what: str, longest: int) -> str:
    """A typed text ("" for none), at most ``longest`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"the {what} must be text")
    if len(value) > longest:
        raise ValueError(f"the {what} may have at most {longest} characters")
    return value.strip()


def channel_kind(value: object) -> ChannelKind:
    if not isinstance(value, str) or value not in {k.value for k in ChannelKind}:
        raise ValueError("choose JSON or Slack")
    return ChannelKind(value)
