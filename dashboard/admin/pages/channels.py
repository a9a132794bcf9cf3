"""Notification channels (admin): webhooks listed, added (the secret shown once), tested and
deactivated, and the recent e-mail and webhook deliveries with their status and last error.

Needs ``alert:manage``, checked again by every callback and by the writes themselves; each
change is audited by ``models.channels`` in the transaction that makes it. A channel id from
the browser is checked against the database, and a URL against the webhook policy
(``ingest.notify.urls``) before it is saved.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import dash
from dash import Input, Output, State, html

from dashboard.admin.channels import (
    CHANNELS_PATH,
    DONE,
    IDS,
    MAX_NAME_INPUT,
    MAX_URL_INPUT,
    channel_kind,
    channel_options,
    channel_table,
    delivery_table,
    done,
    page_frame,
    secret_once,
    text_input,
)
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
from dashboard.common import params
from dashboard.common.look import refusal
from ingest.notify.dispatch import Notice, delivery_queue, dispatch, enqueue
from ingest.notify.urls import UrlPolicy, check_url
from models import channels
from models.permissions import AccessDenied, Permission
from models.queries.alerts.channels import list_channels, recent_deliveries

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=CHANNELS_PATH,
    name="Notification channels",
    title="Northstar · Notification channels",
    permission=Permission.ALERT_MANAGE.value,
    nav_group="Admin",
    order=65,
)

PAGE = "admin-channels"
PERMISSION = Permission.ALERT_MANAGE
DELIVERIES_SHOWN = 50
SECRET_BYTES = 32


def layout(**_query: Any) -> html.Div:
    try:
        current_principal().require(PERMISSION)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return page_frame()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _lists_refused(error: UserFacingError) -> tuple[Any, Any, Any]:
    return error_view(error), [], None


@dash.callback(
    Output(IDS["channels"], "children"),
    Output(IDS["pick"], "options"),
    Output(IDS["deliveries"], "children"),
    Input(IDS["poll"], "n_intervals"),
    *(Input(store, "data") for store in DONE.values()),
)
@guarded_callback(page=PAGE, permission=PERMISSION, on_error=_lists_refused)
def channels_view(call: CallContext, /, *_triggers: object) -> tuple[Any, Any, Any]:
    """The channels and the newest deliveries (the inputs only trigger)."""
    with read_connection() as connection:
        found = list_channels(connection, call.principal)
        sent = recent_deliveries(connection, call.principal, limit=DELIVERIES_SHOWN)
    call.rows = len(found) + len(sent)
    return channel_table(found), channel_options(found), delivery_table(sent)


def _action_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), dash.no_update


@dash.callback(
    Output(IDS["create-result"], "children"),
    Output(DONE["create"], "data"),
    Input(IDS["create"], "n_clicks"),
    State(IDS["name"], "value"),
    State(IDS["kind"], "value"),
    State(IDS["url"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=PERMISSION, on_error=_action_refused)
def create_channel(
    call: CallContext, /, n_clicks: object, name: object, kind: object, url: object
) -> tuple[Any, Any]:
    """Add a webhook channel whose URL passes the policy; show its new secret once."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    label = text_input(name, "name", MAX_NAME_INPUT)
    chosen = channel_kind(kind)
    address = text_input(url, "URL", MAX_URL_INPUT)
    check_url(address, UrlPolicy.from_settings(current_services().settings))
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with write_session() as session:
        channel = channels.create_channel(
            session,
            call.principal,
            name=label,
            kind=chosen,
            url=address,
            secret=secret,
            now=utc_now(),
        )
        created_id, created_name = channel.id, channel.name
    call.rows = 1
    call.detail = {"channel": created_id}
    return secret_once(created_name, secret), utc_now().isoformat()


@dash.callback(
    Output(IDS["deactivate-result"], "children"),
    Output(DONE["deactivate"], "data"),
    Input(IDS["deactivate"], "n_clicks"),
    State(IDS["pick"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=PERMISSION, on_error=_action_refused)
def deactivate_channel(call: CallContext, /, n_clicks: object, channel: object) -> tuple[Any, Any]:
    """Stop sending to the chosen channel (kept, with its deliveries, for the record)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    channel_id = params.record_id(channel, "a channel")
    call.detail = {"channel": channel_id}
    with write_session() as session:
        name = channels.deactivate_channel(session, call.principal, channel_id, now=utc_now()).name
    call.rows = 1
    return done(f"Channel {name} deactivated: nothing more is sent to it."), utc_now().isoformat()


@dash.callback(
    Output(IDS["test-result"], "children"),
    Output(DONE["test"], "data"),
    Input(IDS["test"], "n_clicks"),
    State(IDS["pick"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=PERMISSION, on_error=_action_refused)
def test_channel(call: CallContext, /, n_clicks: object, channel: object) -> tuple[Any, Any]:
    """Send a test notice to the chosen active channel; its delivery shows in the list."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    channel_id = params.record_id(channel, "a channel")
    call.detail = {"channel": channel_id}
    who = call.principal.name or "an admin"
    notice = Notice(
        kind="channel.test",
        title="Test notice from Northstar",
        text=f"{who} sent this to check the channel. Nothing needs doing.",
        link=CHANNELS_PATH,
        severity="info",
        data={"channel_id": channel_id},
    )
    with write_session() as session:
        channels.record_test_notice(session, call.principal, channel_id)
        ids = dispatch(
            session,
            notice,
            in_app_user_ids=(),
            email_user_ids=(),
            channel_ids=(channel_id,),
            now=utc_now(),
        )
        if not ids:  # rolls back the audit row: nothing was sent
            raise ValueError("choose an active channel")
    enqueue(delivery_queue(current_services().redis), ids)
    call.rows = 1
    return done("Test notice queued: see its delivery below."), utc_now().isoformat()
