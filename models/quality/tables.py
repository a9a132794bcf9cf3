"""The data-quality tables: checks, their results, reconciliation watermarks, incidents."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

# The tables these reference must be in the metadata wherever incidents are flushed (the
# ORM resolves every foreign key to order its inserts), not only where models.schema is loaded.
from models import org, sources, users  # noqa: F401
from models.base import Base, BigPK, CreatedAt, IntPK, JsonObject
from models.enums import Granularity
from models.types import value_enum


class CheckKey(StrEnum):
    """The checks Northstar runs on every source (``dq_checks.key``)."""

    FRESHNESS = "freshness"
    COMPLETENESS = "completeness"
    VALIDITY = "validity"
    VOLUME_ANOMALY = "volume_anomaly"
    REFERENTIAL_INTEGRITY = "referential_integrity"
    SCHEMA_DRIFT = "schema_drift"
    RECONCILIATION = "reconciliation"


class DqState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILING = "failing"


class Severity(StrEnum):
    """How urgent an incident is; it sets how soon an unacknowledged incident escalates."""

    WARNING = "warning"
    CRITICAL = "critical"


class IncidentStatus(StrEnum):
    """``open`` (nobody acknowledged it), ``acknowledged``, ``recovered`` (the check passes
    again, waiting for a steward to confirm) and ``resolved``."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RECOVERED = "recovered"
    RESOLVED = "resolved"


class IncidentEventKind(StrEnum):
    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    COMMENTED = "commented"
    ESCALATED = "escalated"
    RECOVERED = "recovered"
    RELAPSED = "relapsed"
    RESOLVED = "resolved"


class DqCheck(Base):
    """A check's definition; a disabled check is not run, ``severity`` is its incidents'."""

    __tablename__ = "dq_checks"

    id: Mapped[IntPK]
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str]
    description: Mapped[str] = mapped_column(server_default="")
    severity: Mapped[Severity] = mapped_column(value_enum(Severity, "incident_severity"))
    enabled: Mapped[bool] = mapped_column(server_default="true")
    created_at: Mapped[CreatedAt]


class DqResult(Base):
    """One evaluation of a check on a source's window; re-evaluating a window updates it."""

    __tablename__ = "dq_results"
    __table_args__ = (
        UniqueConstraint("check_id", "source_id", "window_start", "window_end"),
        Index("ix_dq_results_source_id_check_id_at", "source_id", "check_id", "at"),
        Index("ix_dq_results_at", "at"),
    )

    id: Mapped[BigPK]
    check_id: Mapped[int] = mapped_column(ForeignKey("dq_checks.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    window_start: Mapped[dt.datetime]
    window_end: Mapped[dt.datetime]
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    state: Mapped[DqState] = mapped_column(value_enum(DqState, "dq_state"))
    summary: Mapped[str] = mapped_column(server_default="")
    context: Mapped[JsonObject]


class DqWatermark(Base):
    """How far reconciliation got for a source and granularity, and what still differs."""

    __tablename__ = "dq_watermarks"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    granularity: Mapped[Granularity] = mapped_column(
        value_enum(Granularity, "granularity"), primary_key=True
    )
    reconciled_through: Mapped[dt.datetime]
    unresolved: Mapped[list[dict[str, Any]]] = mapped_column(server_default="[]")
    """Ranges ``{"start", "end"}`` (ISO 8601) found different, checked again every run."""


class Incident(Base):
    """A failing check on a source, from its first failure until a steward resolves it."""

    __tablename__ = "incidents"
    __table_args__ = (
        # One incident per source and check until it is resolved; repeats update it.
        Index(
            "uq_incidents_source_id_check_id_unresolved",
            "source_id",
            "check_id",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index("ix_incidents_status_next_escalation_at", "status", "next_escalation_at"),
        CheckConstraint("escalation_level >= 0", name="escalation_level_not_negative"),
    )

    id: Mapped[IntPK]
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    check_id: Mapped[int] = mapped_column(ForeignKey("dq_checks.id", ondelete="CASCADE"))
    severity: Mapped[Severity] = mapped_column(value_enum(Severity, "incident_severity"))
    status: Mapped[IncidentStatus] = mapped_column(
        value_enum(IncidentStatus, "incident_status"), server_default="open"
    )
    title: Mapped[str]
    summary: Mapped[str] = mapped_column(server_default="")
    """The latest failing result's summary."""
    opened_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    occurrences: Mapped[int] = mapped_column(server_default="1")
    """Failing results (distinct windows) seen while the incident was unresolved."""
    first_result_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("dq_results.id", ondelete="SET NULL")
    )
    last_result_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("dq_results.id", ondelete="SET NULL")
    )
    affected_kpis: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    """Keys of the KPIs reading the source (through their metrics), when last seen."""
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The source's steward; None: the stewards of ``owner_unit_id`` own it."""
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalation_level: Mapped[int] = mapped_column(server_default="0")
    escalated_at: Mapped[dt.datetime | None]
    next_escalation_at: Mapped[dt.datetime | None]
    recovered_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None]


class IncidentEvent(Base):
    """One step of an incident's timeline: what happened, when, who did it, why."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident_id_at", "incident_id", "at"),)

    id: Mapped[BigPK]
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    kind: Mapped[IncidentEventKind] = mapped_column(
        value_enum(IncidentEventKind, "incident_event_kind")
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    """The user's name, or ``system`` for the check runner and the escalation job."""
    note: Mapped[str] = mapped_column(server_default="")
    result_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("dq_results.id", ondelete="SET NULL")
    )
    detail: Mapped[JsonObject]
    """Evidence (a copy of the result) or the step's facts (level, recipients, assignee)."""
