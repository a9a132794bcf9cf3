"""In-app notifications: a generic inbox per user (incidents now, alerts later).

Writers call :func:`notify` inside their own transaction, so a notification exists exactly
when the change it announces was committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, ForeignKey, Index, String, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

import models.users  # noqa: F401  (the referenced table, for the ORM's flush order)
from models.base import Base, BigPK


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[BigPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    """What it is about, ``<subject>.<event>`` such as ``incident.escalated``."""
    title: Mapped[str]
    body: Mapped[str] = mapped_column(server_default="")
    link: Mapped[str] = mapped_column(String(500), server_default="")
    """A local path of the dashboard, e.g. ``/steward/incidents/12``."""
    created_at: Mapped[dt.datetime]
    read_at: Mapped[dt.datetime | None]


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: int
    user_id: int
    kind: str
    title: str
    body: str
    link: str
    created_at: dt.datetime
    read_at: dt.datetime | None


def notify(
    connection: Connection,
    user_ids: Collection[int],
    *,
    kind: str,
    title: str,
    link: str = "",
    body: str = "",
    now: dt.datetime,
) -> int:
    """Add one notification per user (duplicates in ``user_ids`` collapse); returns how many."""
    users = sorted(set(user_ids))
    if not users:
        return 0
    rows = [
        {"user_id": u, "kind": kind, "title": title, "body": body, "link": link, "created_at": now}
        for u in users
    ]
    connection.execute(insert(Notification), rows)
    return len(rows)


def notifications_for(
    connection: Connection, user_id: int, *, unread_only: bool = False, limit: int = 50
) -> list[NotificationRow]:
    """The user's notifications, newest first."""
    n = Notification
    statement = (
        select(n.id, n.user_id, n.kind, n.title, n.body, n.link, n.created_at, n.read_at)
        .where(n.user_id == user_id)
        .order_by(n.created_at.desc(), n.id.desc())
        .limit(limit)
    )
    if unread_only:
        statement = statement.where(n.read_at.is_(None))
    return [NotificationRow(*row) for row in connection.execute(statement)]


def mark_read(
    connection: Connection, user_id: int, ids: Sequence[int] | None, *, now: dt.datetime
) -> int:
    """Mark the user's notifications ``ids`` (None: all of them) read; returns how many changed.

    Only the user's own notifications change, whatever ids are given.
    """
    n = Notification
    statement = update(n).where(n.user_id == user_id, n.read_at.is_(None)).values(read_at=now)
    if ids is not None:
        statement = statement.where(n.id.in_(list(ids)))
    return connection.execute(statement).rowcount
