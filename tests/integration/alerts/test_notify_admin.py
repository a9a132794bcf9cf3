"""The notification channels admin page over HTTP, as the browser posts its callbacks: add a
channel (its secret shown once), test it through a real worker, deactivate it; every change
audited; forged callbacks from users without ``alert:manage`` change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dashboard.admin.channels import CHANNELS_PATH, DONE, IDS
from dashboard.app import create_app
from ingest.runtime import Services
from integration.auth_support import PASSWORD, FakeClock, sign_in
from integration.notify_support import (
    Receiver,
    deliveries,
    expected_signature,
    local_webhooks,
    receiver,
    run_burst_worker,
    use_settings,
)
from integration.quality_support import World, count, world
from integration.steward_support import Caller, texts
from models.accounts import hash_password

__all__ = ["receiver", "use_settings", "world"]  # fixtures

EMAILS = {"admin": "ada@example.com", "executive": "eve@example.com", "steward": "sam@example.com"}


@dataclass
class Admin:
    app: Flask
    db: Engine
    services: Services

    def caller(self, who: str) -> Caller:
        client: FlaskClient = self.app.test_client()
        assert sign_in(client, email=EMAILS[who], password=PASSWORD).status_code == 303
        return Caller(client)


@pytest.fixture
def admin(world: World, db: Engine, use_settings) -> Iterator[Admin]:
    with db.begin() as connection:
        connection.execute(
            text("UPDATE users SET password_hash = :h"), {"h": hash_password(PASSWORD)}
        )
    services = use_settings(**local_webhooks(rate_limit_enabled=False))
    app = create_app(services.settings, clock=FakeClock())
    yield Admin(app, db, services)
    app.extensions["northstar"].close()


def read(node: Any) -> str:
    """What the user reads, with the spacing the browser would show."""
    return " ".join(texts(node).split())


def create(caller: Caller, name: Any, kind: Any, url: Any, clicks: Any = 1) -> str:
    answer = caller.answer(IDS["create-result"], clicks, name, kind, url)
    return read(answer[IDS["create-result"]]["children"])


def act(caller: Caller, action: str, channel: Any, clicks: Any = 1) -> str:
    answer = caller.answer(IDS[f"{action}-result"], clicks, channel)
    return read(answer[IDS[f"{action}-result"]]["children"])


def view(caller: Caller) -> dict[str, Any]:
    return caller.answer(IDS["channels"], 1, *([None] * len(DONE)))


def audit(db: Engine) -> list[tuple[Any, ...]]:
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT actor_id, actor, action, target_id, before, after FROM audit_log "
                "WHERE target_type = 'notification_channel' ORDER BY id"
            )
        )
        return [tuple(r) for r in rows]


def snapshot(db: Engine) -> dict[str, Any]:
    with db.connect() as connection:
        channels = connection.execute(
            text("SELECT id, name, url, active FROM notification_channels ORDER BY id")
        ).all()
    return {
        "channels": [tuple(c) for c in channels],
        "deliveries": deliveries(db),
        "audit": count(db, "audit_log"),
    }


def test_an_admin_adds_tests_and_deactivates_a_channel(admin: Admin, receiver: Receiver) -> None:
    ada = admin.caller("admin")

    shown = create(ada, "Ops hook", "json", receiver.url)
    assert shown.startswith("✔ Channel Ops hook added.")
    secret = shown.rsplit(":", 1)[1].strip()
    assert len(secret) >= 40
    ((channel_id, name, url, active),) = snapshot(admin.db)["channels"]
    assert (name, url, active) == ("Ops hook", receiver.url, True)
    listed = json.dumps(view(ada))
    assert "Ops hook" in listed
    assert "http://127.0.0.1:" in listed
    assert secret not in listed  # shown once, never again
    assert "/hooks/northstar" not in listed  # the path may be a credential: masked

    assert act(ada, "test", channel_id) == "✔ Test notice queued: see its delivery below."
    run_burst_worker(admin.services)
    (request,) = receiver.received
    timestamp = request.headers["X-Northstar-Timestamp"]
    assert request.headers["X-Northstar-Signature"] == expected_signature(
        secret, timestamp, request.body
    )
    assert json.loads(request.body)["kind"] == "channel.test"
    assert "Delivered" in texts(view(ada)[IDS["deliveries"]]["children"])

    assert act(ada, "deactivate", channel_id).startswith("✔ Channel Ops hook deactivated")
    assert snapshot(admin.db)["channels"][0][3] is False
    assert act(ada, "test", channel_id) == "Invalid input: choose an active channel."

    masked = "http://127.0.0.1:" + receiver.url.split(":")[2].split("/")[0] + "/…"
    channel = {"name": "Ops hook", "kind": "json", "url": masked}
    assert audit(admin.db) == [
        (4, "Ada Admin", "notification_channel.create", str(channel_id), None,
         {**channel, "active": True}),
        (4, "Ada Admin", "notification_channel.test", str(channel_id), None, None),
        (4, "Ada Admin", "notification_channel.deactivate", str(channel_id),
         {**channel, "active": True}, {**channel, "active": False}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kind", "url", "refusal"),
    [
        ("Local", "json", "http://localhost:9/x", "host localhost is not in"),
        ("Slack", "slack", "https://hooks.slack.com/services/T/B/X", "is not in"),
        ("Creds", "json", "http://u:p@127.0.0.1:9/x", "user name or password"),
        ("Gopher", "json", "gopher://127.0.0.1:9/x", "must start with https://"),
        ("", "json", "http://127.0.0.1:9/x", "a channel name must be 1 to 100"),
        ("\x00<script>", "json", "http://127.0.0.1:9/x", "a channel name must be 1 to 100"),
        ("Nul", "json", "http://127.0.0.1:9/\x00", "spaces or control characters"),
        ("List", ["json"], "http://127.0.0.1:9/x", "choose JSON or Slack"),
        ("Number", "json", 12, "the URL must be text"),
        ("Odd", "xml", "http://127.0.0.1:9/x", "choose JSON or Slack"),
        ("Huge", "json", "http://127.0.0.1/" + "x" * 3000, "at most 2000 characters"),
    ],
)
def test_a_channel_the_policy_refuses_is_not_added(
    admin: Admin, name: str, kind: Any, url: Any, refusal: str
) -> None:
    before = snapshot(admin.db)

    shown = create(admin.caller("admin"), name, kind, url)

    assert shown.startswith("Invalid input:")
    assert refusal in shown
    assert snapshot(admin.db) == before


def test_names_are_unique(admin: Admin, receiver: Receiver) -> None:
    ada = admin.caller("admin")
    create(ada, "Ops hook", "json", receiver.url)
    assert "exists already" in create(ada, "ops HOOK", "slack", receiver.url)
    assert len(snapshot(admin.db)["channels"]) == 1


@pytest.mark.parametrize("who", ["executive", "steward"])
def test_forged_admin_callbacks_from_others_change_nothing(
    admin: Admin, receiver: Receiver, who: str
) -> None:
    create(admin.caller("admin"), "Ops hook", "json", receiver.url)
    ((channel_id, *_),) = snapshot(admin.db)["channels"]
    before = snapshot(admin.db)
    caller = admin.caller(who)

    answers = [
        create(caller, "Forged", "json", receiver.url),
        create(caller, "Forged", "slack", "https://hooks.slack.com/x", clicks=99),
        act(caller, "test", channel_id),
        act(caller, "test", str(channel_id)),
        act(caller, "deactivate", channel_id),
        texts(view(caller)[IDS["channels"]]["children"]),
    ]

    assert all(a == "Not allowed: missing permission alert:manage." for a in answers), answers
    run_burst_worker(admin.services)
    assert receiver.received == []
    assert snapshot(admin.db) == before
    assert "Not allowed" in caller.page(CHANNELS_PATH)


@pytest.mark.parametrize("channel", [404, 0, -1, "1; DROP TABLE users", None, [1], 2**40])
def test_an_unknown_or_malformed_channel_changes_nothing(
    admin: Admin, receiver: Receiver, channel: Any
) -> None:
    ada = admin.caller("admin")
    create(ada, "Ops hook", "json", receiver.url)
    before = snapshot(admin.db)

    for action in ("test", "deactivate"):
        assert act(ada, action, channel).startswith("Invalid input:")

    assert snapshot(admin.db) == before
