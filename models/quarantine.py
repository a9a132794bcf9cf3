"""Quarantined records: rejected input kept with the reason, until replayed or discarded."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigPK, CreatedAt
from models.enums import DriftKind, QuarantineStatus
from models.types import value_enum


class QuarantinedRecord(Base):
    __tablename__ = "quarantine"
    __table_args__ = (
        Index("ix_quarantine_source_id_status_received_at", "source_id", "status", "received_at"),
        # A redelivered stream entry must not quarantine its records twice.
        Index("uq_quarantine_batch_id_record_index", "batch_id", "record_index", unique=True),
    )

    id: Mapped[BigPK]
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    source_key: Mapped[str] = mapped_column(String(64))
    contract_version: Mapped[int | None]
    batch_id: Mapped[uuid.UUID | None]
    record_index: Mapped[int | None]
    payload: Mapped[Any | None] = mapped_column(JSONB)
    raw: Mapped[str | None]
    field: Mapped[str | None] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str]
    received_at: Mapped[CreatedAt]
    first_seen_at: Mapped[CreatedAt]
    status: Mapped[QuarantineStatus] = mapped_column(
        value_enum(QuarantineStatus, "quarantine_status"), server_default="open"
    )
    acted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acted_at: Mapped[dt.datetime | None]
    note: Mapped[str | None]


class SchemaDrift(Base):
    """A field outside the contract, or of the wrong type, in too many of a window's records."""

    __tablename__ = "schema_drift"
    __table_args__ = (
        UniqueConstraint("source_id", "contract_version", "field", "kind", "window_start"),
    )

    id: Mapped[BigPK]
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    contract_version: Mapped[int]
    field: Mapped[str] = mapped_column(String(200))
    kind: Mapped[DriftKind] = mapped_column(value_enum(DriftKind, "drift_kind"))
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    records: Mapped[int]
    occurrences: Mapped[int]
    share: Mapped[float]
    detected_at: Mapped[CreatedAt]
