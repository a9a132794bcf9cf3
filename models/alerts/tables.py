"""The alert tables: rules, their current state and history, and the reviews firing opens."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

# The tables these reference must be in the metadata wherever rules are flushed (the ORM
# resolves every foreign key to order its inserts), not only where models.schema is loaded.
from models import channels, kpis, org, users  # noqa: F401
from models.base import Base, BigPK, CreatedAt, IntPK, JsonObject
from models.types import value_enum


class Condition(StrEnum):
    """What a rule watches: the KPI ``above`` or ``below`` a value, its ``change_pct``
    against the previous period of the same length, or its deviation from the KPI's target
    in percent (``outside_target_band``)."""

    ABOVE = "above"
    BELOW = "below"
    CHANGE_PCT = "change_pct"
    OUTSIDE_TARGET_BAND = "outside_target_band"


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for critical: severities compare by it."""
        return list(AlertSeverity).index(self)


class AlertState(StrEnum):
    """``ok`` → ``pending`` (the condition holds) → ``firing`` (it held for the rule's
    duration) → ``resolved`` (it cleared past the clear level) → ``ok``."""

    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class ReviewState(StrEnum):
    """``open`` → ``scheduled`` (a meeting is set) → ``decided`` (with a decision note) →
    ``closed``; an open or scheduled review may also be closed without a decision."""

    OPEN = "open"
    SCHEDULED = "scheduled"
    DECIDED = "decided"
    CLOSED = "closed"


class ReviewEventKind(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    SCHEDULED = "scheduled"
    DECIDED = "decided"
    CLOSED = "closed"


class AlertRule(Base):
    """A line on a KPI at an org unit (the unit's whole subtree); see docs/alerts.md."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        CheckConstraint("for_s >= 0", name="for_s_not_negative"),
        CheckConstraint("window_s > 0", name="window_s_positive"),
        CheckConstraint(
            "mute_from IS NULL OR mute_until IS NULL OR mute_from < mute_until",
            name="mute_window_ordered",
        ),
        Index("ix_alert_rules_kpi_id_org_unit_id", "kpi_id", "org_unit_id"),
    )

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(200))
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    condition: Mapped[Condition] = mapped_column(value_enum(Condition, "alert_condition"))
    threshold: Mapped[float] = mapped_column(Float)
    """The level it fires past (a percentage for ``change_pct`` and ``outside_target_band``)."""
    clear_threshold: Mapped[float | None] = mapped_column(Float)
    """The level it must come back past to resolve (hysteresis); None: ``threshold``."""
    for_s: Mapped[int] = mapped_column(server_default="0")
    """How long the condition must hold before the rule fires."""
    window_s: Mapped[int] = mapped_column(server_default="3600")
    """The KPI is evaluated over the last ``window_s`` seconds (and the period before it)."""
    severity: Mapped[AlertSeverity] = mapped_column(value_enum(AlertSeverity, "alert_severity"))
    mute_from: Mapped[dt.datetime | None]
    """Muted from this moment (None: from now) until ``mute_until``; no mute without it."""
    mute_until: Mapped[dt.datetime | None]
    notify_in_app: Mapped[bool] = mapped_column(server_default="true")
    notify_email: Mapped[bool] = mapped_column(server_default="false")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(server_default="true")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


class AlertRuleChannel(Base):
    """A webhook channel a rule notifies (``notification_channels``)."""

    __tablename__ = "alert_rule_channels"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), primary_key=True
    )


class AlertStateRow(Base):
    """A rule's current state, written by every evaluation."""

    __tablename__ = "alert_states"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[AlertState] = mapped_column(
        value_enum(AlertState, "alert_state"), server_default="ok"
    )
    since: Mapped[dt.datetime]
    """When the rule entered ``state``."""
    last_value: Mapped[float | None] = mapped_column(Float)
    """The value the condition was judged on (a percentage for the percent conditions)."""
    last_evaluated_at: Mapped[dt.datetime | None]
    notified_at: Mapped[dt.datetime | None]
    """When the current firing was announced; None while firing muted (announced on unmute)."""


class AlertEvent(Base):
    """A transition of a rule's state, with what it was judged on."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_rule_id_at", "rule_id", "at"),)

    id: Mapped[BigPK]
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    from_state: Mapped[AlertState] = mapped_column(value_enum(AlertState, "alert_state"))
    to_state: Mapped[AlertState] = mapped_column(value_enum(AlertState, "alert_state"))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    clear_threshold: Mapped[float] = mapped_column(Float)
    muted: Mapped[bool] = mapped_column(server_default="false")
    detail: Mapped[JsonObject]
    """The KPI's value and the previous period's, the window, who was notified."""


class Review(Base):
    """A decision a firing alert asks for: one unfinished review per rule, updated by repeats."""

    __tablename__ = "reviews"
    __table_args__ = (
        Index(
            "uq_reviews_rule_id_unfinished",
            "rule_id",
            unique=True,
            postgresql_where=text("state IN ('open', 'scheduled')"),
        ),
        Index("ix_reviews_kpi_id_org_unit_id", "kpi_id", "org_unit_id"),
        Index("ix_reviews_state_due_at", "state", "due_at"),
        CheckConstraint("occurrences >= 1", name="occurrences_positive"),
    )

    id: Mapped[IntPK]
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[AlertSeverity] = mapped_column(value_enum(AlertSeverity, "alert_severity"))
    state: Mapped[ReviewState] = mapped_column(
        value_enum(ReviewState, "review_state"), server_default="open"
    )
    evidence: Mapped[JsonObject]
    """Value, threshold, condition, when, and the series around it (``[[iso, value], …]``)."""
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    due_at: Mapped[dt.datetime]
    opened_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    occurrences: Mapped[int] = mapped_column(server_default="1")
    """Firings of the rule while the review was unfinished."""
    scheduled_for: Mapped[dt.datetime | None]
    decision_note: Mapped[str | None]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ReviewEvent(Base):
    """One step of a review's history: what happened, when, who, and the note."""

    __tablename__ = "review_events"
    __table_args__ = (Index("ix_review_events_review_id_at", "review_id", "at"),)

    id: Mapped[BigPK]
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    kind: Mapped[ReviewEventKind] = mapped_column(value_enum(ReviewEventKind, "review_event_kind"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254))
    """The user's name, or ``system`` for the alert evaluation."""
    note: Mapped[str] = mapped_column(server_default="")
    detail: Mapped[JsonObject]
