"""Reads of the notification outbox and channels: the admin page's lists, the retry sweep's
due deliveries, and who may receive a notice by e-mail.

Channels are global configuration (not scoped by org unit): whoever holds ``alert:manage``
sees all of them. A channel's secret is never read here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, Text, cast, func, select
from sqlalchemy.orm import aliased

from models.channels import ChannelKind, DeliveryStatus, NotificationChannel, NotificationDelivery
from models.permissions import Permission, Principal
from models.users import User

MAX_IDS = 10_000


@dataclass(frozen=True, slots=True)
class ChannelRow:
    id: int
    name: str
    kind: ChannelKind
    url: str
    active: bool
    created_by: str | None
    created_at: dt.datetime
    deactivated_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    created_at: dt.datetime
    target: str
    """The channel's name, or the e-mail address."""
    via: str
    """``e-mail``, or the channel's kind (``json``, ``slack``)."""
    kind: str
    title: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_error: str | None


def list_channels(connection: Connection, principal: Principal) -> list[ChannelRow]:
    """Every channel, active ones first, by name.

    Raises:
        AccessDenied: missing ``alert:manage``.
    """
    principal.require(Permission.ALERT_MANAGE)
    c = NotificationChannel
    creator = func.coalesce(func.nullif(User.display_name, ""), User.email)
    statement = (
        select(c.id, c.name, c.kind, c.url, c.active, creator, c.created_at, c.deactivated_at)
        .outerjoin(User, User.id == c.created_by)
        .order_by(c.active.desc(), func.lower(c.name), c.id)
    )
    return [ChannelRow(*row) for row in connection.execute(statement)]


def recent_deliveries(
    connection: Connection, principal: Principal, *, limit: int = 50
) -> list[DeliveryRow]:
    """The newest deliveries (webhooks and e-mails), newest first.

    Raises:
        AccessDenied: missing ``alert:manage``.
    """
    principal.require(Permission.ALERT_MANAGE)
    d, c = NotificationDelivery, aliased(NotificationChannel)
    statement = (
        select(
            d.id,
            d.created_at,
            func.coalesce(c.name, d.recipient),
            func.coalesce(cast(c.kind, Text), "e-mail"),
            d.kind,
            func.coalesce(d.payload["title"].astext, ""),
            d.status,
            d.attempts,
            d.next_attempt_at,
            d.delivered_at,
            d.last_error,
        )
        .outerjoin(c, c.id == d.channel_id)
        .order_by(d.created_at.desc(), d.id.desc())
        .limit(limit)
    )
    return [DeliveryRow(*row) for row in connection.execute(statement)]


def due_delivery_ids(connection: Connection, now: dt.datetime, *, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due at ``now``, oldest due first."""
    d = NotificationDelivery
    statement = (
        select(d.id)
        .where(d.status == DeliveryStatus.PENDING, d.next_attempt_at <= now)
        .order_by(d.next_attempt_at, d.id)
        .limit(limit)
    )
    return [int(i) for i in connection.execute(statement).scalars()]


def email_recipients(connection: Connection, user_ids: Collection[int]) -> list[tuple[int, str]]:
    """``(user id, e-mail address)`` of the active users among ``user_ids``, by id."""
    wanted = sorted(set(user_ids))[:MAX_IDS]
    if not wanted:
        return []
    statement = (
        select(User.id, User.email)
        .where(User.id.in_(wanted), User.is_active.is_(True), User.email != "")
        .order_by(User.id)
    )
    return [(int(i), str(e)) for i, e in connection.execute(statement)]


def active_channel_ids(connection: Connection, channel_ids: Collection[int]) -> list[int]:
    """The active channels among ``channel_ids`` (unknown ids dropped), by id."""
    wanted = sorted(set(channel_ids))[:MAX_IDS]
    if not wanted:
        return []
    c = NotificationChannel
    statement = select(c.id).where(c.id.in_(wanted), c.active.is_(True)).order_by(c.id)
    return [int(i) for i in connection.execute(statement).scalars()]


def channel_exists(connection: Connection, principal: Principal, channel_id: int) -> bool:
    """Whether there is a channel ``channel_id`` (active or not).

    Raises:
        AccessDenied: missing ``alert:manage``.
    """
    principal.require(Permission.ALERT_MANAGE)
    c = NotificationChannel
    return connection.execute(select(c.id).where(c.id == channel_id)).first() is not None
