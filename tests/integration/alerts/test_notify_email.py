"""E-mail notifications end to end: outbox rows per recipient, sent by a burst RQ worker to
a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import text

from integration.notify_support import (
    BOUNCING,
    NOTICE,
    PUBLIC_URL,
    Mailbox,
    announce,
    deliveries,
    mailbox,
    run_burst_worker,
    use_settings,
)
from integration.quality_support import World, world

__all__ = ["mailbox", "use_settings", "world"]  # fixtures


def smtp(box: Mailbox, **more: object) -> dict[str, object]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": box.port,
        "smtp_starttls": False,
        "smtp_from": "Northstar Alerts <alerts@northstar.example.com>",
        "public_url": PUBLIC_URL,
        **more,
    }


def test_each_recipient_gets_their_own_message(
    world: World, mailbox: Mailbox, use_settings
) -> None:
    services = use_settings(**smtp(mailbox))
    with services.engine.begin() as connection:  # Rita left: deactivated users get nothing
        connection.execute(text("UPDATE users SET is_active = false WHERE id = 5"))
    people = world.people

    ids = announce(
        services,
        email_user_ids=[people.executive, people.admin, people.regional, people.executive],
        in_app_user_ids=[people.steward],
    )
    run_burst_worker(services)

    assert len(ids) == 2
    sent = sorted(mailbox.envelopes, key=lambda e: e[1])
    assert [(sender, to) for sender, to, _ in sent] == [
        ("alerts@northstar.example.com", ["ada@example.com"]),
        ("alerts@northstar.example.com", ["eve@example.com"]),
    ]
    for (_sender, to, message), name in zip(sent, ("ada", "eve"), strict=True):
        assert message["To"] == f"{name}@example.com" == to[0]
        assert message["Cc"] is None
        assert message["Bcc"] is None
        assert message["From"] == "Northstar Alerts <alerts@northstar.example.com>"
        assert message["Subject"] == "[Northstar] Critical: Revenue below 1,000"
        assert message.get_content_type() == "text/plain"
        body = message.get_payload(decode=True).decode()
        assert NOTICE.text in body
        assert f"Open in Northstar: {PUBLIC_URL}/kpi/revenue?unit=emea" in body
    rows = deliveries(services.engine)
    assert [(r["user_id"], r["recipient"], r["status"], r["attempts"]) for r in rows] == [
        (3, "eve@example.com", "delivered", 1),
        (4, "ada@example.com", "delivered", 1),
    ]


def test_a_title_cannot_add_headers(world: World, mailbox: Mailbox, use_settings) -> None:
    services = use_settings(**smtp(mailbox))
    notice = dataclasses.replace(NOTICE, title="Revenue\r\nBcc: spy@evil.example")

    announce(services, notice, email_user_ids=[world.people.executive])
    run_burst_worker(services)

    ((_sender, to, message),) = mailbox.envelopes
    assert to == ["eve@example.com"]
    assert message["Bcc"] is None
    assert message["Subject"] == "[Northstar] Critical: Revenue Bcc: spy@evil.example"


def test_a_server_that_refuses_the_recipient_fails_the_delivery(
    world: World, mailbox: Mailbox, use_settings
) -> None:
    services = use_settings(**smtp(mailbox))
    with services.engine.begin() as connection:
        connection.execute(text(f"UPDATE users SET email = 'eve{BOUNCING}' WHERE id = 3"))

    announce(services, email_user_ids=[world.people.executive, world.people.admin])
    run_burst_worker(services)

    assert [to for _sender, to, _message in mailbox.envelopes] == [["ada@example.com"]]
    rows = deliveries(services.engine)
    assert [(r["status"], r["attempts"], r["last_error"]) for r in rows] == [
        ("failed", 1, "SMTP 550: 5.1.1 no such mailbox"),
        ("delivered", 1, None),
    ]


def test_a_malformed_address_fails_without_reaching_the_server(
    world: World, mailbox: Mailbox, use_settings
) -> None:
    services = use_settings(**smtp(mailbox))
    with services.engine.begin() as connection:
        connection.execute(text("UPDATE users SET email = 'eve@' WHERE id = 3"))

    announce(services, email_user_ids=[world.people.executive])
    run_burst_worker(services)

    assert mailbox.envelopes == []
    (row,) = deliveries(services.engine)
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "failed",
        1,
        "cannot write the message: 'eve@' is not an e-mail address",
    )


def test_an_unreachable_server_is_retried(world: World, use_settings) -> None:
    services = use_settings(smtp_host="127.0.0.1", smtp_port=9, smtp_starttls=False)

    announce(services, email_user_ids=[world.people.executive])
    run_burst_worker(services)

    (row,) = deliveries(services.engine)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"].startswith("could not send through 127.0.0.1: ConnectionRefusedError")
    assert row["next_attempt_at"] > row["updated_at"]


def test_without_an_smtp_server_e_mails_are_refused(world: World, use_settings) -> None:
    services = use_settings(smtp_host=None)

    announce(services, email_user_ids=[world.people.executive])
    run_burst_worker(services)

    (row,) = deliveries(services.engine)
    assert (row["status"], row["last_error"]) == (
        "refused",
        "e-mail is not configured (NORTHSTAR_SMTP_HOST is not set)",
    )
