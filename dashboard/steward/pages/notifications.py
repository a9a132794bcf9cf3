"""The signed-in user's notifications: the inbox page, and the callbacks of the navbar's bell
(which is on every page, so its callbacks live with the inbox).

Every callback reads or changes only the signed-in user's own notifications: the user comes
from the session, never from the browser. They need ``kpi:view``
(:data:`dashboard.shell.inbox.PERMISSION`), which every shipped role holds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, dcc, html

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
from dashboard.shell.inbox import (
    BELL_LIST,
    BELL_MARK_READ,
    BELL_MARKED,
    BELL_MENU,
    BELL_POLL,
    INBOX_PATH,
    PERMISSION,
    POLL_MS,
    bell_items,
    bell_label,
    inbox,
)
from models.notifications import mark_read, notifications_for
from models.permissions import AccessDenied, Principal

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=INBOX_PATH,
    name="Notifications",
    title="Northstar · Notifications",
    nav=False,
    permission=PERMISSION.value,
)

PAGE = "notifications"
INBOX_ID = "inbox-list"
INBOX_POLL = "inbox-poll"
INBOX_LIMIT = 100
UNREAD_COUNTED = 100


def layout(**_query: Any) -> html.Div:
    try:
        current_principal().require(PERMISSION)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return html.Div(
        [
            html.H1("Notifications", className="h3"),
            html.P(
                "Mark them read from the bell in the menu bar.", className="text-secondary small"
            ),
            dcc.Interval(id=INBOX_POLL, interval=POLL_MS),
            html.Div(id=INBOX_ID),
        ]
    )


def _user_id(principal: Principal) -> int:
    if principal.user_id is None:
        raise AccessDenied("notifications belong to a signed-in user")
    return principal.user_id


def _bell_refused(error: UserFacingError) -> tuple[Any, Any]:
    return bell_label(None), [error_view(error)]


@dash.callback(
    Output(BELL_MENU, "label"),
    Output(BELL_LIST, "children"),
    Input(BELL_POLL, "n_intervals"),
    Input(BELL_MARKED, "data"),
)
@guarded_callback(page=PAGE, permission=PERMISSION, on_error=_bell_refused)
def notifications_bell(call: CallContext, /, _poll: object, _marked: object) -> tuple[Any, Any]:
    """The bell's unread count and newest notifications (the inputs only trigger)."""
    user_id = _user_id(call.principal)
    with read_connection() as connection:
        newest = notifications_for(connection, user_id, limit=10)
        unread = notifications_for(connection, user_id, unread_only=True, limit=UNREAD_COUNTED)
    call.rows = len(newest)
    call.detail = {"unread": len(unread)}
    return bell_label(len(unread)), bell_items(newest)


@dash.callback(
    Output(BELL_MARKED, "data"),
    Input(BELL_MARK_READ, "n_clicks"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=PERMISSION, on_error=lambda _error: dash.no_update)
def mark_notifications_read(call: CallContext, /, n_clicks: object) -> Any:
    """Mark every notification of the signed-in user read (nobody else's can be named)."""
    user_id = _user_id(call.principal)
    if not params.clicked(n_clicks):
        return dash.no_update
    now = dt.datetime.now(dt.UTC)
    with write_session() as session:
        changed = mark_read(session.connection(), user_id, None, now=now)
    call.rows = changed
    call.detail = {"marked": changed}
    return now.isoformat()


@dash.callback(
    Output(INBOX_ID, "children"), Input(INBOX_POLL, "n_intervals"), Input(BELL_MARKED, "data")
)
@guarded_callback(page=PAGE, permission=PERMISSION, on_error=error_view)
def notifications_inbox(call: CallContext, /, _poll: object, _marked: object) -> html.Div:
    """The inbox: the user's newest notifications, read and unread (the inputs only
    trigger)."""
    user_id = _user_id(call.principal)
    with read_connection() as connection:
        notes = notifications_for(connection, user_id, limit=INBOX_LIMIT)
        unread = notifications_for(connection, user_id, unread_only=True, limit=UNREAD_COUNTED)
    call.rows = len(notes)
    return inbox(notes, len(unread))
