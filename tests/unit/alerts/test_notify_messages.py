"""What notifications look like and how their failures are retried: the webhook bodies and
signature (checked as a receiver would), the e-mail message, the backoff schedule."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest

from ingest.notify import email, webhook
from ingest.notify.dispatch import Notice
from ingest.notify.jobs import backoff, next_step
from models.channels import ChannelKind, DeliveryStatus, masked_url
from models.settings import Settings

NOTICE = Notice(
    kind="alert.firing",
    title="Revenue below 1,000",
    text="Revenue in EMEA is 870.",
    link="/kpi/revenue?unit=emea",
    severity="warning",
    data={"at": dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), "value": 870.0},
)
SECRET = "s3cret-of-the-channel"
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def settings(**changes: object) -> Settings:
    return Settings().model_copy(update=changes)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = webhook.body_for(ChannelKind.JSON, 12, NOTICE.kind, NOTICE.payload(), "/x")
    headers = webhook.signed_headers(
        SECRET, body, delivery_id=12, kind=NOTICE.kind, now=1_800_000_000.7
    )

    assert headers["X-Northstar-Timestamp"] == "1800000000"
    mac = hmac.new(SECRET.encode(), b"1800000000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Northstar-Signature"] == f"sha256={mac}"
    assert json.loads(body)["data"] == {"at": "2026-03-02T10:00:00+00:00", "value": 870.0}


def test_verify_accepts_the_signed_request_only() -> None:
    body = b'{"id":1}'
    signed = webhook.signature(SECRET, "1800000000", body)
    at = 1_800_000_100.0

    assert webhook.verify(SECRET, "1800000000", body, signed, now=at)
    assert not webhook.verify(SECRET, "1800000000", body + b" ", signed, now=at)
    assert not webhook.verify("another secret", "1800000000", body, signed, now=at)
    assert not webhook.verify(SECRET, "1800000001", body, signed, now=at)
    assert not webhook.verify(SECRET, "1800000000", body, signed, now=at + 300)  # replayed late
    assert not webhook.verify(SECRET, "-1", body, signed, now=at)


def test_links_are_made_absolute_with_the_public_url() -> None:
    assert (
        webhook.absolute_link("/kpi/x", "https://ns.example.com/") == "https://ns.example.com/kpi/x"
    )
    assert webhook.absolute_link("/kpi/x", None) == "/kpi/x"


def test_the_slack_body_escapes_what_slack_would_turn_into_mentions() -> None:
    payload = {**NOTICE.payload(), "title": "<!here> a <b> & c", "text": "<@U123>"}
    body = webhook.slack_body(NOTICE.kind, payload, "/relative")

    assert body["text"] == ":warning: *&lt;!here&gt; a &lt;b&gt; &amp; c*: &lt;@U123&gt; /relative"
    assert [b["type"] for b in body["blocks"]] == ["section", "context"]  # no button: no URL


def test_the_e_mail_is_plain_text_to_one_recipient() -> None:
    configured = settings(smtp_from="Northstar <alerts@ns.example.com>")
    message = email.build_message(
        configured, "eve@example.com", NOTICE.kind, NOTICE.payload(), "https://ns/kpi/revenue"
    )

    assert message["To"] == "eve@example.com"
    assert message["Subject"] == "[Northstar] Warning: Revenue below 1,000"
    assert message["Message-ID"].endswith("@ns.example.com>")
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_content()
    assert "Revenue in EMEA is 870." in text
    assert "Open in Northstar: https://ns/kpi/revenue" in text
    assert "  value: 870.0" in text


@pytest.mark.parametrize("address", ["eve@", "@example.com", "eve", "a@b.c, d@e.f", "é@x.org"])
def test_only_one_plain_address_is_accepted(address: str) -> None:
    with pytest.raises(ValueError, match="is not an e-mail address"):
        email.build_message(settings(), address, NOTICE.kind, NOTICE.payload(), "")


def test_the_backoff_doubles_up_to_its_maximum() -> None:
    configured = settings(notify_backoff_s=30.0, notify_backoff_max_s=300.0)
    waits = [backoff(n, configured).total_seconds() for n in range(1, 7)]
    assert waits == [30, 60, 120, 240, 300, 300]
    assert backoff(10_000, configured).total_seconds() == 300


def test_what_each_outcome_makes_of_the_delivery() -> None:
    configured = settings(notify_max_attempts=3, notify_backoff_s=30.0)
    transient = webhook.Outcome(False, "HTTP 503 from x", retry=True)

    assert next_step(1, webhook.Outcome(True), configured, NOW).status is DeliveryStatus.DELIVERED
    retry = next_step(2, transient, configured, NOW)
    assert (retry.status, retry.next_attempt_at) == (
        DeliveryStatus.PENDING,
        NOW + dt.timedelta(seconds=60),
    )
    last = next_step(3, transient, configured, NOW)
    assert (last.status, last.error) == (
        DeliveryStatus.FAILED,
        "HTTP 503 from x (gave up after 3 attempts)",
    )
    final = next_step(1, webhook.Outcome(False, "HTTP 404 from x"), configured, NOW)
    assert (final.status, final.error) == (DeliveryStatus.FAILED, "HTTP 404 from x")
    refused = next_step(1, webhook.Outcome(False, "no", refused=True), configured, NOW)
    assert (refused.status, refused.next_attempt_at) == (DeliveryStatus.REFUSED, None)


def test_pages_and_the_audit_log_show_where_a_webhook_goes_not_its_path() -> None:
    slack = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    assert masked_url(slack) == "https://hooks.slack.com/…"
    assert (
        masked_url("https://u:p@hooks.example.com:8443/x?token=1")
        == "https://hooks.example.com:8443/…"
    )
    assert masked_url("https://hooks.example.com") == "https://hooks.example.com/"
