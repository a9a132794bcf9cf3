"""Sources, their API keys, versioned contracts and the metrics they feed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, IntPK, Key
from models.enums import Classification, PullKind, RefreshMode
from models.types import value_enum


class Source(Base):
    """A producer of events: who owns it, how fresh it must be, how long raw data is kept."""

    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint("freshness_sla_s > 0", name="freshness_sla_positive"),
        CheckConstraint("retention_days > 0", name="retention_positive"),
    )

    id: Mapped[IntPK]
    key: Mapped[Key]
    name: Mapped[str]
    description: Mapped[str] = mapped_column(server_default="")
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    steward_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    refresh_mode: Mapped[RefreshMode] = mapped_column(value_enum(RefreshMode, "refresh_mode"))
    freshness_sla_s: Mapped[int]
    expected_volume_per_15m: Mapped[int | None]
    retention_days: Mapped[int] = mapped_column(server_default="90")
    sensitivity: Mapped[Classification] = mapped_column(
        value_enum(Classification, "classification"), server_default="internal"
    )
    partner_agreement_ref: Mapped[str | None]
    partner_agreement_expires_at: Mapped[dt.datetime | None]
    active: Mapped[bool] = mapped_column(server_default="true")
    created_at: Mapped[CreatedAt]
    # Pulled sources (microbatch, scheduled): where and how often Northstar fetches records.
    pull_kind: Mapped[PullKind | None] = mapped_column(value_enum(PullKind, "pull_kind"))
    pull_target: Mapped[str | None]
    """An HTTP(S) URL answering JSON, or an SQLAlchemy database URL for ``pull_query``."""
    pull_query: Mapped[str | None]
    pull_interval_s: Mapped[int | None]
    pull_watermark: Mapped[str | None]
    last_pulled_at: Mapped[dt.datetime | None]


class SourceApiKey(Base):
    """An API key of a source, stored as a SHA-256 hash; ``prefix`` identifies it in lists."""

    __tablename__ = "source_api_keys"

    id: Mapped[IntPK]
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(server_default="")
    created_at: Mapped[CreatedAt]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]


class SourceContract(Base):
    """One version of a source's contract; ``fields`` holds ``models.contracts.FieldSpec``s."""

    __tablename__ = "source_contracts"
    __table_args__ = (UniqueConstraint("source_id", "version"),)

    id: Mapped[IntPK]
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    version: Mapped[int]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    note: Mapped[str] = mapped_column(server_default="")
    created_at: Mapped[CreatedAt]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Metric(Base):
    """An aggregatable series: a source's measure, or (``measure`` NULL) its event count."""

    __tablename__ = "metrics"
    __table_args__ = (
        Index(
            "uq_metrics_source_id_measure",
            "source_id",
            text("coalesce(measure, '')"),
            unique=True,
        ),
    )

    id: Mapped[IntPK]
    key: Mapped[str] = mapped_column(String(130), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    measure: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str]
    unit: Mapped[str] = mapped_column(server_default="")
