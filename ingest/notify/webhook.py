"""Webhook deliveries: the JSON and Slack-compatible bodies, the HMAC signature, and the POST.

Every request carries ``X-Northstar-Timestamp`` (Unix seconds) and ``X-Northstar-Signature:
sha256=<hex>``, the HMAC-SHA256 with the channel's secret of ``<timestamp>.<body>`` (the raw
body bytes). A receiver recomputes it over the bytes it received, compares in constant time
(:func:`verify`, the recipe of docs/notifications.md) and rejects timestamps older than a few
minutes, so a captured request cannot be replayed later.

The request goes to the address :func:`ingest.notify.urls.resolve_target` checked, with the
original host in ``Host`` and (https) in SNI and certificate verification; redirects are not
followed, and it uses no proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from ingest.notify.urls import Target
from models.channels import ChannelKind

SIGNATURE_HEADER = "X-Northstar-Signature"
TIMESTAMP_HEADER = "X-Northstar-Timestamp"
DELIVERY_HEADER = "X-Northstar-Delivery"
EVENT_HEADER = "X-Northstar-Event"
USER_AGENT = "Northstar-Webhook/1"
MAX_SKEW_S = 300
"""How old a signed timestamp :func:`verify` accepts (and how far in the future)."""
ERROR_BODY_CHARS = 200
MAX_ERROR = 500
_SEVERITY_ICON = {
    "info": ":information_source:",
    "warning": ":warning:",
    "critical": ":rotating_light:",
}
_RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt went: ``ok``; else the error, and whether trying again may help, or
    whether the delivery was refused (never sent: not allowed or not configured)."""

    ok: bool
    error: str | None = None
    retry: bool = False
    refused: bool = False


def absolute_link(link: str, public_url: str | None) -> str:
    """The notice's local path made absolute with NORTHSTAR_PUBLIC_URL (when set)."""
    if not link or not public_url:
        return link
    return public_url.rstrip("/") + link


def json_body(delivery_id: int, kind: str, payload: dict[str, Any], link: str) -> dict[str, Any]:
    """Northstar's own webhook body: the notice, its kind and the delivery id (the same on
    every retry, so a receiver can drop duplicates)."""
    return {
        "id": delivery_id,
        "kind": kind,
        "title": payload.get("title", ""),
        "text": payload.get("text", ""),
        "severity": payload.get("severity", "info"),
        "link": link,
        "data": payload.get("data", {}),
    }


def slack_body(kind: str, payload: dict[str, Any], link: str) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (notifications, clients without blocks) and
    ``blocks`` (the message as shown)."""
    severity = str(payload.get("severity", "info"))
    title = _slack_escape(str(payload.get("title", "")))
    text = _slack_escape(str(payload.get("text", "")))
    icon = _SEVERITY_ICON.get(severity, "")
    headline = f"{icon} *{title}*".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{headline}\n{text}".strip()}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{severity} · {_slack_escape(kind)}"}],
        },
    ]
    if link.startswith(("https://", "http://")):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Northstar"},
                        "url": link,
                    }
                ],
            }
        )
    fallback = f"{headline}: {text}" if text else headline
    return {"text": f"{fallback} {link}".strip(), "blocks": blocks}


def _slack_escape(text: str) -> str:
    """Slack's three control characters: nobody's text turns into a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def body_for(
    kind: ChannelKind, delivery_id: int, notice_kind: str, payload: dict[str, Any], link: str
) -> bytes:
    """The request body of a channel of ``kind``, as UTF-8 JSON."""
    document = (
        slack_body(notice_kind, payload, link)
        if kind is ChannelKind.SLACK
        else json_body(delivery_id, notice_kind, payload, link)
    )
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, body: bytes, signed: str, *, now: float | None = None
) -> bool:
    """What a receiver does: the signature matches (constant-time) and the timestamp is
    within :data:`MAX_SKEW_S` of ``now``."""
    if not timestamp.isdecimal():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > MAX_SKEW_S:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signed)


def signed_headers(
    secret: str, body: bytes, *, delivery_id: int, kind: str, now: float
) -> dict[str, str]:
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        DELIVERY_HEADER: str(delivery_id),
        EVENT_HEADER: kind,
    }


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout_s: float) -> Outcome:
    """POST ``body`` to the checked address of ``target``; never follows a redirect.

    2xx is delivered; 3xx and 4xx (but 408, 425, 429) are failures retrying will not fix;
    5xx, 408/425/429, timeouts and connection errors may pass later.
    """
    url = target.url
    pool = _pool(target, timeout_s)
    try:
        response = pool.urlopen(
            "POST",
            url.target,
            body=body,
            headers={**headers, "Host": url.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            excerpt = response.read(ERROR_BODY_CHARS, decode_content=False)
        finally:
            response.release_conn()
    except Urllib3Error as exc:
        reason = f"could not reach {url.host}: {type(exc).__name__}: {exc}"
        return Outcome(False, reason[:MAX_ERROR], retry=True)
    finally:
        pool.close()
    status = response.status
    if 200 <= status < 300:
        return Outcome(True)
    shown = excerpt.decode("utf-8", "replace").strip().replace("\n", " ")
    error = f"HTTP {status} from {url.host}" + (f": {shown}" if shown else "")
    if 300 <= status < 400:
        error = f"HTTP {status} from {url.host}: redirects are not followed"
    return Outcome(False, error, retry=status >= 500 or status in _RETRY_STATUSES)


def _pool(target: Target, timeout_s: float) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s, total=2 * timeout_s)
    if target.url.scheme == "http":
        return urllib3.HTTPConnectionPool(target.address, target.url.port, timeout=timeout)
    return urllib3.HTTPSConnectionPool(
        target.address,
        target.url.port,
        timeout=timeout,
        server_hostname=target.url.host,
        assert_hostname=target.url.host,
        cert_reqs="CERT_REQUIRED",
    )
