"""Append-only logs: every data read (``access_log``) and every change (``audit_log``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigPK, CreatedAt, JsonObject
from models.enums import Outcome
from models.types import value_enum


class AccessLog(Base):
    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_user_id_at", "user_id", "at"),)

    id: Mapped[BigPK]
    at: Mapped[CreatedAt] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    page: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200))
    scope: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    rows: Mapped[int] = mapped_column(server_default="0")
    outcome: Mapped[Outcome] = mapped_column(value_enum(Outcome, "outcome"))
    duration_ms: Mapped[float | None]
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[JsonObject]


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)

    id: Mapped[BigPK]
    at: Mapped[CreatedAt] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(130))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    detail: Mapped[JsonObject]
