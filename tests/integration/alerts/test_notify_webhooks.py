"""Webhooks end to end: dispatched in a transaction, sent by real RQ burst workers to a local
HTTP server, signed, retried with backoff, refused where the policy says so."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time

from sqlalchemy import Engine, text

from ingest.notify.jobs import backoff
from integration.notify_support import (
    NOTICE,
    PUBLIC_URL,
    Receiver,
    add_channel,
    announce,
    deliveries,
    expected_signature,
    local_webhooks,
    mailbox,
    receiver,
    run_burst_worker,
    run_sweep,
    use_settings,
)
from integration.quality_support import World, world
from models.channels import ChannelKind

__all__ = ["mailbox", "receiver", "use_settings", "world"]  # fixtures


def _wait_until_due(engine: Engine) -> None:
    """Sleep until every pending delivery's next attempt is due (the backoff is 0.2 s)."""
    with engine.connect() as connection:
        latest = connection.execute(
            text("SELECT max(next_attempt_at) FROM notification_deliveries WHERE status='pending'")
        ).scalar_one()
    if latest is not None:
        time.sleep(max(0.0, (latest - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)


def test_a_webhook_is_delivered_signed_to_a_local_receiver(
    world: World, receiver: Receiver, use_settings
) -> None:
    services = use_settings(**local_webhooks())
    channel_id, secret = add_channel(services.engine, receiver.url)

    (delivery_id,) = announce(services, channel_ids=[channel_id], in_app_user_ids=[3])
    sent_after = int(time.time())
    run_burst_worker(services)
    sent_before = time.time()

    (request,) = receiver.received
    assert request.path == "/hooks/northstar?team=ops"
    timestamp = request.headers["X-Northstar-Timestamp"]
    # The time of sending, whatever happens after it (a worker slow to stop made a check
    # against the test's later clock fail).
    assert sent_after <= int(timestamp) <= sent_before
    assert request.headers["X-Northstar-Signature"] == expected_signature(
        secret, timestamp, request.body
    )
    assert request.headers["X-Northstar-Signature"] != expected_signature(
        secret, timestamp, request.body + b" "
    )
    assert request.headers["X-Northstar-Delivery"] == str(delivery_id)
    assert request.headers["Content-Type"].startswith("application/json")
    body = json.loads(request.body)
    assert body == {
        "id": delivery_id,
        "kind": "alert.firing",
        "title": NOTICE.title,
        "text": NOTICE.text,
        "severity": "critical",
        "link": f"{PUBLIC_URL}/kpi/revenue?unit=emea",
        "data": NOTICE.data,
    }
    (row,) = deliveries(services.engine)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 1, None)
    assert row["delivered_at"] is not None
    assert row["next_attempt_at"] is None
    with services.engine.connect() as connection:  # the bell too, in the same transaction
        bell = connection.execute(text("SELECT user_id, kind, link FROM notifications")).all()
    assert [tuple(r) for r in bell] == [(3, "alert.firing", "/kpi/revenue?unit=emea")]


def test_the_slack_variant_carries_text_and_blocks_and_is_signed(
    world: World, receiver: Receiver, use_settings
) -> None:
    services = use_settings(**local_webhooks())
    channel_id, secret = add_channel(services.engine, receiver.url, ChannelKind.SLACK)
    notice = dataclasses.replace(NOTICE, title="<!channel> Revenue & margin")

    announce(services, notice, channel_ids=[channel_id])
    run_burst_worker(services)

    (request,) = receiver.received
    timestamp = request.headers["X-Northstar-Timestamp"]
    assert request.headers["X-Northstar-Signature"] == expected_signature(
        secret, timestamp, request.body
    )
    body = json.loads(request.body)
    assert set(body) == {"text", "blocks"}
    assert "&lt;!channel&gt; Revenue &amp; margin" in body["text"]  # no @channel ping
    assert "<!channel>" not in request.body.decode()
    section = body["blocks"][0]
    assert section["type"] == "section"
    assert NOTICE.text in section["text"]["text"]
    buttons = [b for b in body["blocks"] if b["type"] == "actions"]
    assert buttons[0]["elements"][0]["url"] == f"{PUBLIC_URL}/kpi/revenue?unit=emea"
    assert deliveries(services.engine)[0]["status"] == "delivered"


def test_a_failed_delivery_is_retried_after_a_backoff_and_then_delivered(
    world: World, receiver: Receiver, use_settings
) -> None:
    services = use_settings(**local_webhooks())
    channel_id, _secret = add_channel(services.engine, receiver.url)
    receiver.statuses = [500]

    (delivery_id,) = announce(services, channel_ids=[channel_id])
    run_burst_worker(services)

    (row,) = deliveries(services.engine)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"].startswith("HTTP 500 from 127.0.0.1: receiver is down")
    waited = row["next_attempt_at"] - row["updated_at"]
    assert waited == backoff(1, services.settings) == dt.timedelta(seconds=0.2)

    run_burst_worker(services)  # nothing is due yet: the job is gone, nothing is sent
    assert len(receiver.received) == 1
    _wait_until_due(services.engine)
    run_sweep(services)

    assert [r.headers["X-Northstar-Delivery"] for r in receiver.received] == [str(delivery_id)] * 2
    (row,) = deliveries(services.engine)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 2, None)


def test_after_the_last_attempt_the_delivery_fails_with_its_error(
    world: World, receiver: Receiver, use_settings
) -> None:
    services = use_settings(**local_webhooks(notify_max_attempts=3))
    channel_id, _secret = add_channel(services.engine, receiver.url)
    receiver.statuses = [503, 500, 502, 200]

    announce(services, channel_ids=[channel_id])
    run_burst_worker(services)
    for _ in range(3):  # more sweeps than attempts: the third failure is final
        _wait_until_due(services.engine)
        run_sweep(services)

    assert len(receiver.received) == 3
    (row,) = deliveries(services.engine)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 3, None)
    assert row["last_error"] == (
        "HTTP 502 from 127.0.0.1: receiver is down (gave up after 3 attempts)"
    )


def test_a_client_error_fails_at_once(world: World, receiver: Receiver, use_settings) -> None:
    services = use_settings(**local_webhooks())
    channel_id, _secret = add_channel(services.engine, receiver.url)
    receiver.statuses = [404]

    announce(services, channel_ids=[channel_id])
    run_burst_worker(services)

    (row,) = deliveries(services.engine)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == "HTTP 404 from 127.0.0.1: ok"


def test_deliveries_never_enqueued_are_sent_by_the_sweep(
    world: World, receiver: Receiver, use_settings
) -> None:
    """Redis lost the job (or the process died after the commit): the outbox still has it."""
    services = use_settings(**local_webhooks())
    channel_id, _secret = add_channel(services.engine, receiver.url)

    announce(services, channel_ids=[channel_id], enqueued=False)
    run_burst_worker(services)
    assert receiver.received == []

    run_sweep(services)
    assert len(receiver.received) == 1
    assert deliveries(services.engine)[0]["status"] == "delivered"


def test_a_loopback_receiver_is_refused_unless_its_network_is_allowed(
    world: World, receiver: Receiver, use_settings
) -> None:
    services = use_settings(**local_webhooks(webhook_allowed_networks=""))
    channel_id, _secret = add_channel(services.engine, receiver.url)

    announce(services, channel_ids=[channel_id])
    run_burst_worker(services)

    assert receiver.received == []
    (row,) = deliveries(services.engine)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("refused", 1, None)
    assert row["last_error"] == "127.0.0.1 is a loopback address, not allowed for webhooks"
    run_sweep(services)  # refused is final: never retried
    assert receiver.received == []


def test_a_name_resolving_to_loopback_is_refused(
    world: World, receiver: Receiver, use_settings
) -> None:
    services = use_settings(
        **local_webhooks(webhook_allowed_hosts="localhost", webhook_allowed_networks="")
    )
    channel_id, _secret = add_channel(
        services.engine, receiver.url.replace("127.0.0.1", "localhost")
    )

    announce(services, channel_ids=[channel_id])
    run_burst_worker(services)

    assert receiver.received == []
    (row,) = deliveries(services.engine)
    assert row["status"] == "refused"
    assert row["last_error"] in {
        "localhost resolves to 127.0.0.1, a loopback address, not allowed for webhooks",
        "localhost resolves to ::1, a loopback address, not allowed for webhooks",
    }


def test_private_and_metadata_addresses_are_refused_before_any_connection(
    world: World, use_settings
) -> None:
    services = use_settings(**local_webhooks(webhook_allowed_hosts="*"))
    urls = [
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:192.168.1.1]/hook",
        "https://[fd00::1]/hook",
    ]
    channel_ids = [add_channel(services.engine, url)[0] for url in urls]

    announce(services, channel_ids=channel_ids)
    run_burst_worker(services)

    found = [(r["status"], r["attempts"], r["last_error"]) for r in deliveries(services.engine)]
    assert [f[:2] for f in found] == [("refused", 1)] * 4
    assert [f[2] for f in found[:2]] == [
        "10.1.2.3 is a private address, not allowed for webhooks",
        "169.254.169.254 is a link-local address, not allowed for webhooks",
    ]
    # Python prints IPv4-mapped addresses either way (::ffff:c0a8:101 or ::ffff:192.168.1.1).
    assert found[2][2].endswith(
        "is a private address (192.168.1.1 inside it), not allowed for webhooks"
    )
    assert found[3][2] == "fd00::1 is a private address, not allowed for webhooks"


def test_a_host_outside_the_allowlist_is_refused(
    world: World, receiver: Receiver, use_settings
) -> None:
    services = use_settings(**local_webhooks())
    channel_id, _secret = add_channel(services.engine, receiver.url)
    # The allowlist changed after the channel was added: the send-time check applies it.
    services = use_settings(**local_webhooks(webhook_allowed_hosts="hooks.slack.com"))

    announce(services, channel_ids=[channel_id])
    run_burst_worker(services)

    assert receiver.received == []
    (row,) = deliveries(services.engine)
    assert row["status"] == "refused"
    assert row["last_error"] == "host 127.0.0.1 is not in NORTHSTAR_WEBHOOK_ALLOWED_HOSTS"


def test_a_deactivated_channel_gets_nothing_more(
    world: World, receiver: Receiver, use_settings
) -> None:
    services = use_settings(**local_webhooks())
    channel_id, _secret = add_channel(services.engine, receiver.url)
    announce(services, channel_ids=[channel_id], enqueued=False)
    with services.engine.begin() as connection:
        connection.execute(text("UPDATE notification_channels SET active = false"))

    run_sweep(services)
    later = announce(services, channel_ids=[channel_id])

    assert receiver.received == []
    assert later == []  # an inactive channel is not even queued
    (row,) = deliveries(services.engine)
    assert (row["status"], row["last_error"]) == ("refused", "the channel was deactivated")
