"""The navbar's notification bell and the inbox list (pure builders; the callbacks that fill
them are in ``dashboard/steward/pages/notifications.py``).

Only the signed-in user's own notifications are ever read (``models.notifications``); links
are shown only when they are local paths of the dashboard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.auth.login import safe_next
from models.notifications import NotificationRow
from models.permissions import Permission

BELL_MENU = "ns-bell"
BELL_LIST = "ns-bell-list"
BELL_POLL = "ns-bell-poll"
BELL_MARK_READ = "ns-bell-mark-read"
BELL_MARKED = "ns-bell-marked"
INBOX_PATH = "/notifications"
POLL_MS = 60_000
"""How often an open page asks for new notifications."""
SHOWN = 8
"""Notifications listed in the bell's menu (the inbox page lists more)."""
MAX_COUNTED = 99
HIDDEN: dict[str, Any] = {"aria-hidden": "true"}
PERMISSION = Permission.KPI_VIEW
"""What the bell and the inbox need: every shipped role has it, so everyone who uses the
app has an inbox, while a signed-in user without any role (access not granted yet) gets
nothing from any callback, notifications included."""


def local_link(link: str) -> str | None:
    """``link`` if it is a path of this site (never another host), else None."""
    if not link:
        return None
    safe = safe_next(link)
    return safe if safe == link else None


def count_text(unread: int) -> str:
    return f"{MAX_COUNTED}+" if unread > MAX_COUNTED else str(unread)


def bell_label(unread: int | None) -> list[Any]:
    """A bell (a local SVG: assets/bell.svg) and the word "Inbox", the unread
    count as a badge (none when 0), and the count in words for screen readers; ``None``: not
    known yet."""
    label: list[Any] = [html.Span(className="ns-bell", **HIDDEN), "Inbox"]
    if unread:
        badge = dbc.Badge(count_text(unread), color="danger", pill=True, class_name="ms-1")
        label.append(html.Span(badge, **HIDDEN))
    if unread is not None:
        spoken = f"{count_text(unread)} unread notification{'s' if unread != 1 else ''}"
        label.append(html.Span(f", {spoken}", className="visually-hidden"))
    return label


def bell(poll_ms: int = POLL_MS) -> html.Div:
    """The bell menu for the navbar, with its poll and the store its mark-read answer fills."""
    return html.Div(
        [
            dcc.Interval(id=BELL_POLL, interval=poll_ms),
            dcc.Store(id=BELL_MARKED),
            dbc.Nav(
                dbc.DropdownMenu(
                    [
                        dbc.DropdownMenuItem("Notifications", header=True),
                        html.Div(id=BELL_LIST),
                        dbc.DropdownMenuItem(divider=True),
                        dbc.DropdownMenuItem("Mark all read", id=BELL_MARK_READ, n_clicks=0),
                        dbc.DropdownMenuItem("All notifications", href=INBOX_PATH),
                    ],
                    id=BELL_MENU,
                    label=bell_label(None),
                    nav=True,
                    in_navbar=True,
                    align_end=True,
                    caret=False,
                ),
                navbar=True,
            ),
        ],
        className="d-flex",
    )


def _when(at: dt.datetime) -> str:
    return f"{at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _content(note: NotificationRow, body_chars: int) -> list[Any]:
    unread = note.read_at is None
    title = html.Strong(note.title) if unread else html.Span(note.title)
    body = note.body if len(note.body) <= body_chars else f"{note.body[: body_chars - 1]}…"
    state = "unread" if unread else "read"
    return [
        html.Div([html.Span("● " if unread else "", **HIDDEN), title]),
        html.Div(body, className="small text-wrap") if body else None,
        html.Div(f"{_when(note.created_at)} · {state}", className="small text-muted"),
    ]


def bell_items(notes: Sequence[NotificationRow]) -> list[Any]:
    """The newest notifications as menu items linking to what they are about."""
    if not notes:
        return [dbc.DropdownMenuItem("No notifications.", disabled=True)]
    return [
        dbc.DropdownMenuItem(
            _content(note, 120),
            href=local_link(note.link),
            disabled=local_link(note.link) is None,
            style={"width": "24rem", "maxWidth": "90vw", "whiteSpace": "normal"},
        )
        for note in notes[:SHOWN]
    ]


def inbox(notes: Sequence[NotificationRow], unread: int) -> html.Div:
    """The inbox page's list: every notification shown with its state and link."""
    if not notes:
        return html.Div(html.P("You have no notifications.", className="text-muted"))
    items = []
    for note in notes:
        link = local_link(note.link)
        content = _content(note, 2000)
        if link is not None:
            content.append(dcc.Link("Open", href=link, className="small"))
        items.append(html.Li(content, className="list-group-item"))
    return html.Div(
        [
            html.P(f"{count_text(unread)} unread; newest first.", className="text-secondary small"),
            html.Ul(items, className="list-group"),
        ]
    )
