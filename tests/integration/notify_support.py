"""Support of the notification tests: a local webhook receiver (http.server in a thread), a
local SMTP server (aiosmtpd), channels and notices written as the app writes them, and burst
RQ workers running the delivery jobs."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest import jobs
from ingest.notify.dispatch import QUEUE, Notice, delivery_queue, dispatch, enqueue
from ingest.runtime import Services
from ingest.worker import make_worker
from models.channels import ChannelKind, create_channel
from models.permissions import Permission, Principal
from models.settings import Settings

ADMIN = Principal(4, frozenset(Permission), (), name="Ada Admin")
"""Ada of the quality world (``quality_support.make_world``), who holds every permission."""
NOTICE = Notice(
    kind="alert.firing",
    title="Revenue below 1,000",
    text="Revenue in EMEA is 870, below the threshold of 1,000 for 10 minutes.",
    link="/kpi/revenue?unit=emea",
    severity="critical",
    data={"rule_id": 7, "kpi": "revenue", "value": 870.0, "threshold": 1000.0},
)
PUBLIC_URL = "https://northstar.example.com"
BOUNCING = "@bounce.example"
"""The local SMTP server refuses recipients at this domain."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 answering ``statuses`` in turn (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/northstar?team=ops"


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            answer = b"receiver is down" if status >= 500 else b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    made.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(made))
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()
    thread.join(5)


@dataclass
class Mailbox:
    """What the local SMTP server accepted: one entry per SMTP transaction."""

    port: int
    envelopes: list[tuple[str, list[str], Message]] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith(BOUNCING):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  (aiosmtpd's hook name)
        message = message_from_bytes(envelope.original_content or envelope.content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def use_settings(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[Any]:
    """``use_settings(**changes)``: the worker's Services with these settings (on empty tables
    and a flushed Redis); the test settings are back afterwards."""
    built: list[Services] = []

    def use(**changes: Any) -> Services:
        services = jobs.init_services(settings.model_copy(update=changes))
        built.append(services)
        return services

    yield use
    for services in built:
        services.close()
    jobs.init_services(settings)


def local_webhooks(**more: Any) -> dict[str, Any]:
    """Settings that let webhooks reach the local receiver (allowed by configuration)."""
    return {
        "webhook_allowed_hosts": "127.0.0.1",
        "webhook_allowed_networks": "127.0.0.1/32",
        "public_url": PUBLIC_URL,
        "notify_backoff_s": 0.2,
        "notify_timeout_s": 5.0,
        **more,
    }


def add_channel(engine: Engine, url: str, kind: ChannelKind = ChannelKind.JSON) -> tuple[int, str]:
    """A channel as the admin page adds it; returns its id and secret."""
    secret = f"test-secret-{kind.value}-{url}"
    with Session(engine) as session, session.begin():
        channel = create_channel(
            session,
            ADMIN,
            name=f"{kind.value} {url}",
            kind=kind,
            url=url,
            secret=secret,
            now=dt.datetime.now(dt.UTC),
        )
        return channel.id, secret


def announce(
    services: Services,
    notice: Notice = NOTICE,
    *,
    channel_ids: Sequence[int] = (),
    email_user_ids: Sequence[int] = (),
    in_app_user_ids: Sequence[int] = (),
    enqueued: bool = True,
) -> list[int]:
    """Dispatch in a committed transaction, then (unless not ``enqueued``) enqueue."""
    with Session(services.engine) as session, session.begin():
        ids = dispatch(
            session,
            notice,
            in_app_user_ids=in_app_user_ids,
            email_user_ids=email_user_ids,
            channel_ids=channel_ids,
            now=dt.datetime.now(dt.UTC),
        )
    if enqueued:
        enqueue(delivery_queue(services.redis), ids)
    return ids


def run_burst_worker(services: Services) -> None:
    """The project's rq worker in burst mode on the delivery queue (JSON serializer)."""
    make_worker([QUEUE], services.redis).work(burst=True, logging_level="WARNING")


def run_sweep(services: Services) -> None:
    """The periodic re-enqueue job, run by a burst worker (which then runs what it enqueued)."""
    delivery_queue(services.redis).enqueue("ingest.notify.jobs.requeue_due")
    run_burst_worker(services)


def deliveries(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, channel_id, user_id, recipient, kind, CAST(status AS text) AS status, "
                "attempts, next_attempt_at, last_error, updated_at, delivered_at "
                "FROM notification_deliveries ORDER BY id"
            )
        )
        return [dict(r._mapping) for r in rows]


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature as docs/notifications.md tells receivers to compute it."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()
