"""Notification channels (webhook endpoints) and the delivery outbox for webhooks and e-mail.

A delivery row is written in the transaction of the change it announces
(:func:`ingest.notify.dispatch.dispatch`); jobs then send it and record the outcome here, so a
notice survives Redis or the receiver being down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKey,
    Index,
    String,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

import models.users  # noqa: F401  (the referenced table, for the ORM's flush order)
from models.audit import Actor, record_change
from models.base import Base, BigPK, CreatedAt, IntPK
from models.permissions import Permission, Principal
from models.types import value_enum


class ChannelKind(StrEnum):
    """``json``: Northstar's own JSON body; ``slack``: ``{"text", "blocks"}`` (Slack-compatible)."""

    JSON = "json"
    SLACK = "slack"


class DeliveryStatus(StrEnum):
    """``pending`` (waiting for its next attempt), ``delivered``, ``failed`` (attempts used
    up) or ``refused`` (never sent: the address is not allowed)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    REFUSED = "refused"


class NotificationChannel(Base):
    """A webhook endpoint admins manage; deactivated channels are kept for their history."""

    __tablename__ = "notification_channels"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[ChannelKind] = mapped_column(value_enum(ChannelKind, "notification_channel_kind"))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))
    """The HMAC key. Stored as is (signing needs it), shown once at creation, never again."""
    active: Mapped[bool] = mapped_column(server_default="true")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]
    deactivated_at: Mapped[dt.datetime | None]


class NotificationDelivery(Base):
    """One notice to one channel or one e-mail recipient, and how sending it went."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        CheckConstraint("(channel_id IS NULL) <> (user_id IS NULL)", name="one_target"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The sweep's "due pending deliveries"; the admin page's "recent ones of a channel".
        Index("ix_notification_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_notification_deliveries_created_at", "created_at"),
        Index("ix_notification_deliveries_channel_id_created_at", "channel_id", "created_at"),
    )

    id: Mapped[BigPK]
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    """The e-mail recipient (None for a channel)."""
    recipient: Mapped[str] = mapped_column(String(254), server_default="")
    """The e-mail address when the notice was dispatched ('' for a channel)."""
    kind: Mapped[str] = mapped_column(String(64))
    """The notice's kind, e.g. ``alert.firing``."""
    payload: Mapped[dict[str, Any]]
    """The notice: title, text, link, severity, data."""
    status: Mapped[DeliveryStatus] = mapped_column(
        value_enum(DeliveryStatus, "notification_delivery_status"), server_default="pending"
    )
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[dt.datetime | None]
    """When the next attempt is due; None once the delivery is settled."""
    last_error: Mapped[str | None]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))
    delivered_at: Mapped[dt.datetime | None]


class ChannelNotFound(ValueError):
    """No channel has this id (the page shows it as invalid input)."""


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery claimed for one attempt, with what sending it needs (the channel's secret
    included, so this never leaves the job)."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    """Attempts made, this one included."""
    recipient: str
    channel_id: int | None
    channel_kind: ChannelKind | None
    channel_url: str | None
    channel_secret: str | None = field(repr=False)
    channel_active: bool


MAX_NAME = 100
_D = NotificationDelivery


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name or f"user {principal.user_id}", principal.user_id)


def masked_url(url: str) -> str:
    """The URL with its path and query hidden (``https://hooks.slack.com/…``): a Slack
    webhook's path is its credential, so pages and the audit log show only where it goes."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "…"
    host = parts.netloc.rpartition("@")[2]
    hidden = parts.path not in ("", "/") or parts.query
    return f"{parts.scheme}://{host}/{'…' if hidden else ''}"


def _shown(channel: NotificationChannel) -> dict[str, Any]:
    """What the audit log keeps of a channel: never its secret nor its URL's path."""
    return {
        "name": channel.name,
        "kind": channel.kind,
        "url": masked_url(channel.url),
        "active": channel.active,
    }


def create_channel(
    session: Session,
    principal: Principal,
    *,
    name: str,
    kind: ChannelKind,
    url: str,
    secret: str,
    now: dt.datetime,
) -> NotificationChannel:
    """Add a webhook channel (the caller checked the URL against the policy), audited.

    Raises:
        AccessDenied: missing ``alert:manage``.
        ValueError: the name is empty, too long, or another channel's.
    """
    principal.require(Permission.ALERT_MANAGE)
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ValueError(f"a channel name must be 1 to {MAX_NAME} printable characters")
    taken = session.execute(
        select(NotificationChannel.id).where(func.lower(NotificationChannel.name) == name.lower())
    ).first()
    if taken is not None:
        raise ValueError(f"a channel named {name!r} exists already")
    channel = NotificationChannel(
        name=name,
        kind=kind,
        url=url,
        secret=secret,
        active=True,
        created_by=principal.user_id,
        created_at=now,
    )
    session.add(channel)
    session.flush()
    record_change(
        session,
        _actor(principal),
        "notification_channel.create",
        "notification_channel",
        channel.id,
        after=_shown(channel),
    )
    return channel


def deactivate_channel(
    session: Session, principal: Principal, channel_id: int, *, now: dt.datetime
) -> NotificationChannel:
    """Stop sending to a channel (its pending deliveries are refused when their turn comes),
    audited; deactivating an inactive channel changes nothing and writes nothing.

    Raises:
        AccessDenied: missing ``alert:manage``.
        ChannelNotFound: no such channel.
    """
    principal.require(Permission.ALERT_MANAGE)
    channel = session.get(NotificationChannel, channel_id, with_for_update=True)
    if channel is None:
        raise ChannelNotFound("there is no such channel")
    if not channel.active:
        return channel
    before = _shown(channel)
    channel.active = False
    channel.deactivated_at = now
    session.flush()
    record_change(
        session,
        _actor(principal),
        "notification_channel.deactivate",
        "notification_channel",
        channel.id,
        before=before,
        after=_shown(channel),
    )
    return channel


def record_test_notice(session: Session, principal: Principal, channel_id: int) -> None:
    """Audit that ``principal`` sent a test notice to the channel (the delivery row says how
    it went)."""
    principal.require(Permission.ALERT_MANAGE)
    record_change(
        session,
        _actor(principal),
        "notification_channel.test",
        "notification_channel",
        channel_id,
    )


def add_deliveries(
    connection: Connection,
    *,
    kind: str,
    payload: dict[str, Any],
    recipients: Sequence[tuple[int, str]],
    channel_ids: Sequence[int],
    now: dt.datetime,
) -> list[int]:
    """One pending delivery per e-mail recipient ``(user id, address)`` and per channel, due
    at once; returns their ids (recipients first)."""
    rows: list[dict[str, Any]] = [
        {"user_id": user_id, "recipient": address, "channel_id": None}
        for user_id, address in recipients
    ]
    rows += [{"user_id": None, "recipient": "", "channel_id": c} for c in channel_ids]
    if not rows:
        return []
    common = {
        "kind": kind,
        "payload": payload,
        "created_at": now,
        "updated_at": now,
        "next_attempt_at": now,
    }
    inserted = connection.execute(
        insert(_D).returning(_D.id, sort_by_parameter_order=True),
        [{**row, **common} for row in rows],
    )
    return [int(i) for i in inserted.scalars()]


def claim_delivery(
    connection: Connection, delivery_id: int, *, now: dt.datetime, lease: dt.timedelta
) -> ClaimedDelivery | None:
    """Take a due pending delivery for one attempt: count the attempt and push its next
    attempt ``lease`` ahead, so a concurrent job skips it and a crashed attempt is retried
    once the lease ends. None when it is not pending, not due, or claimed by another job."""
    claimed = connection.execute(
        update(_D)
        .where(_D.id == delivery_id, _D.status == DeliveryStatus.PENDING, _D.next_attempt_at <= now)
        .values(attempts=_D.attempts + 1, next_attempt_at=now + lease, updated_at=now)
        .returning(_D.id, _D.kind, _D.payload, _D.attempts, _D.recipient, _D.channel_id)
    ).first()
    if claimed is None:
        return None
    ch = NotificationChannel
    channel = connection.execute(
        select(ch.kind, ch.url, ch.secret, ch.active).where(ch.id == claimed.channel_id)
    ).first()
    return ClaimedDelivery(
        id=claimed.id,
        kind=claimed.kind,
        payload=dict(claimed.payload),
        attempts=claimed.attempts,
        recipient=claimed.recipient,
        channel_id=claimed.channel_id,
        channel_kind=None if channel is None else channel.kind,
        channel_url=None if channel is None else channel.url,
        channel_secret=None if channel is None else channel.secret,
        channel_active=channel is not None and channel.active,
    )


def settle_delivery(
    connection: Connection,
    delivery_id: int,
    *,
    status: DeliveryStatus,
    error: str | None,
    next_attempt_at: dt.datetime | None,
    now: dt.datetime,
) -> None:
    """Record an attempt's outcome: ``delivered``, ``failed`` or ``refused`` (settled, no next
    attempt), or ``pending`` again with the error and when to retry."""
    values: dict[str, Any] = {
        "status": status,
        "last_error": error,
        "next_attempt_at": next_attempt_at if status is DeliveryStatus.PENDING else None,
        "updated_at": now,
    }
    if status is DeliveryStatus.DELIVERED:
        values["delivered_at"] = now
    connection.execute(update(_D).where(_D.id == delivery_id).values(**values))
