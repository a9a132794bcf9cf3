"""The notification bell and inbox over HTTP: each user sees and marks only their own."""

from __future__ import annotations

import datetime as dt

from integration.quality_support import PEOPLE, rows
from integration.steward_support import Caller, Console, access_outcomes, console, snapshot, texts
from models.notifications import notify

__all__ = ["console"]  # fixture

BELL, MARKED, INBOX = "ns-bell", "ns-bell-marked", "inbox-list"
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def unread(console: Console, user_id: int) -> int:
    found = rows(
        console.db,
        "SELECT count(*) AS n FROM notifications WHERE user_id = :u AND read_at IS NULL",
        {"u": user_id},
    )
    return int(found[0]["n"])


def bell(caller: Caller) -> tuple[str, str]:
    """The bell's label and its list, as text."""
    answer = caller.answer(BELL, 0, None)
    return texts(answer[BELL]["label"]), texts(answer["ns-bell-list"]["children"])


def add_private_notes(console: Console) -> None:
    with console.db.begin() as connection:
        notify(connection, [PEOPLE.colleague], kind="test", title="For Uma only", now=NOW)
        notify(
            connection,
            [PEOPLE.steward],
            kind="test",
            title="An outside link",
            link="https://evil.example/phish",
            now=NOW,
        )


def test_the_bell_shows_only_the_users_own_notifications(console: Console) -> None:
    add_private_notes(console)
    steward = Caller(console.client("steward"))
    label, listed = bell(steward)
    count = unread(console, PEOPLE.steward)
    assert count >= 3  # two incidents opened for Sam (owner, unit steward) and the note above
    assert label == f"Inbox {count} , {count} unread notifications"
    assert "Critical incident: Freshness failing on Orders" in listed
    assert f"/steward/incidents/{console.orders_incident}" in listed
    assert "For Uma only" not in listed
    # A link that leaves the site is never rendered as one.
    assert "An outside link" in listed
    assert "evil.example" not in listed

    executive = Caller(console.client("executive"))
    label, listed = bell(executive)
    assert label == "Inbox , 0 unread notifications"
    assert listed == "No notifications."
    assert access_outcomes(console.db, PEOPLE.executive, "notifications_bell") == ["ok"]


def test_mark_read_marks_only_the_signed_in_users_notifications(console: Console) -> None:
    add_private_notes(console)
    colleague_unread = unread(console, PEOPLE.colleague)
    steward = Caller(console.client("steward"))
    answer = steward.answer(MARKED, 1)
    assert answer[MARKED]["data"]  # the bell and the inbox then read again
    assert unread(console, PEOPLE.steward) == 0
    assert unread(console, PEOPLE.colleague) == colleague_unread
    label, _listed = bell(steward)
    assert label == "Inbox , 0 unread notifications"
    assert access_outcomes(console.db, PEOPLE.steward, "mark_notifications_read") == ["ok"]


def test_forged_mark_read_calls_change_nothing_they_should_not(console: Console) -> None:
    add_private_notes(console)
    executive = Caller(console.client("executive"))
    before = snapshot(console.db)
    for forged in (0, None, -1, "1", True, [PEOPLE.colleague], {"user_id": PEOPLE.colleague}):
        response = executive.post(MARKED, forged)
        assert response.status_code in (200, 204), forged
    # An executive marking "all read" touches their own (none) and nobody else's.
    assert executive.post(MARKED, 1).status_code in (200, 204)
    assert snapshot(console.db) == before
    anonymous = Caller(console.client(None), executive.specs)
    assert anonymous.post(MARKED, 1).status_code == 401
    assert anonymous.post(BELL, 0, None).status_code == 401
    assert snapshot(console.db) == before


def test_the_inbox_lists_the_users_notifications_read_and_unread(console: Console) -> None:
    add_private_notes(console)
    steward = Caller(console.client("steward"))
    assert "inbox-list" in steward.page("/notifications")
    shown = texts(steward.answer(INBOX, 0, None)[INBOX]["children"])
    assert f"{unread(console, PEOPLE.steward)} unread" in shown
    assert "An outside link" in shown
    assert "For Uma only" not in shown
    assert "evil.example" not in shown
    steward.answer(MARKED, 1)
    shown = texts(steward.answer(INBOX, 1, "marked")[INBOX]["children"])
    assert "0 unread" in shown
    assert "· read" in shown
