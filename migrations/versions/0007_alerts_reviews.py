"""Threshold alerts: rules, their state and history, and the reviews a firing alert opens.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)
_ENUMS = {
    "alert_condition": ("above", "below", "change_pct", "outside_target_band"),
    "alert_severity": ("info", "warning", "critical"),
    "alert_state": ("ok", "pending", "firing", "resolved"),
    "review_state": ("open", "scheduled", "decided", "closed"),
    "review_event_kind": ("opened", "updated", "scheduled", "decided", "closed"),
}


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*_ENUMS[name], name=name, create_type=False)


def _now() -> sa.TextClause:
    return sa.text("now()")


def _json(name: str) -> sa.Column[object]:
    return sa.Column(
        name, postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
    )


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def _rules() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("condition", _enum("alert_condition"), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("clear_threshold", sa.Float(), nullable=True),
        sa.Column("for_s", sa.Integer(), server_default="0", nullable=False),
        sa.Column("window_s", sa.Integer(), server_default="3600", nullable=False),
        sa.Column("severity", _enum("alert_severity"), nullable=False),
        sa.Column("mute_from", _TZ, nullable=True),
        sa.Column("mute_until", _TZ, nullable=True),
        sa.Column("notify_in_app", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("notify_email", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TZ, server_default=_now(), nullable=False),
        sa.Column("updated_at", _TZ, server_default=_now(), nullable=False),
        sa.CheckConstraint("for_s >= 0", name=op.f("ck_alert_rules_for_s_not_negative")),
        sa.CheckConstraint(
            "mute_from IS NULL OR mute_until IS NULL OR mute_from < mute_until",
            name=op.f("ck_alert_rules_mute_window_ordered"),
        ),
        sa.CheckConstraint("window_s > 0", name=op.f("ck_alert_rules_window_s_positive")),
        _fk("alert_rules", "created_by", "users.id", "SET NULL"),
        _fk("alert_rules", "kpi_id", "kpis.id", "CASCADE"),
        _fk("alert_rules", "org_unit_id", "org_units.id"),
        _fk("alert_rules", "owner_user_id", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index(
        "ix_alert_rules_kpi_id_org_unit_id", "alert_rules", ["kpi_id", "org_unit_id"], unique=False
    )
    op.create_table(
        "alert_rule_channels",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        _fk("alert_rule_channels", "channel_id", "notification_channels.id", "CASCADE"),
        _fk("alert_rule_channels", "rule_id", "alert_rules.id", "CASCADE"),
        sa.PrimaryKeyConstraint("rule_id", "channel_id", name=op.f("pk_alert_rule_channels")),
    )


def _states() -> None:
    op.create_table(
        "alert_states",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("state", _enum("alert_state"), server_default="ok", nullable=False),
        sa.Column("since", _TZ, nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_evaluated_at", _TZ, nullable=True),
        sa.Column("notified_at", _TZ, nullable=True),
        _fk("alert_states", "rule_id", "alert_rules.id", "CASCADE"),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_alert_states")),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("from_state", _enum("alert_state"), nullable=False),
        sa.Column("to_state", _enum("alert_state"), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("clear_threshold", sa.Float(), nullable=False),
        sa.Column("muted", sa.Boolean(), server_default="false", nullable=False),
        _json("detail"),
        _fk("alert_events", "rule_id", "alert_rules.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_rule_id_at", "alert_events", ["rule_id", "at"], unique=False)


def _reviews() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("severity", _enum("alert_severity"), nullable=False),
        sa.Column("state", _enum("review_state"), server_default="open", nullable=False),
        _json("evidence"),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("due_at", _TZ, nullable=False),
        sa.Column("opened_at", _TZ, nullable=False),
        sa.Column("last_seen_at", _TZ, nullable=False),
        sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False),
        sa.Column("scheduled_for", _TZ, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("decided_at", _TZ, nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", _TZ, nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("occurrences >= 1", name=op.f("ck_reviews_occurrences_positive")),
        _fk("reviews", "closed_by", "users.id", "SET NULL"),
        _fk("reviews", "decided_by", "users.id", "SET NULL"),
        _fk("reviews", "kpi_id", "kpis.id", "CASCADE"),
        _fk("reviews", "org_unit_id", "org_units.id"),
        _fk("reviews", "owner_user_id", "users.id", "SET NULL"),
        _fk("reviews", "rule_id", "alert_rules.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(
        "ix_reviews_kpi_id_org_unit_id", "reviews", ["kpi_id", "org_unit_id"], unique=False
    )
    op.create_index("ix_reviews_state_due_at", "reviews", ["state", "due_at"], unique=False)
    op.create_index(
        "uq_reviews_rule_id_unfinished",
        "reviews",
        ["rule_id"],
        unique=True,
        postgresql_where=sa.text("state IN ('open', 'scheduled')"),
    )
    op.create_table(
        "review_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("kind", _enum("review_event_kind"), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        _json("detail"),
        _fk("review_events", "actor_id", "users.id", "SET NULL"),
        _fk("review_events", "review_id", "reviews.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_events")),
    )
    op.create_index(
        "ix_review_events_review_id_at", "review_events", ["review_id", "at"], unique=False
    )


def upgrade() -> None:
    bind = op.get_bind()
    for name in _ENUMS:
        _enum(name).create(bind, checkfirst=False)
    _rules()
    _states()
    _reviews()


def downgrade() -> None:
    for table in (
        "review_events",
        "reviews",
        "alert_events",
        "alert_states",
        "alert_rule_channels",
        "alert_rules",
    ):
        op.drop_table(table)
    bind = op.get_bind()
    for name in reversed(_ENUMS):
        _enum(name).drop(bind, checkfirst=False)
