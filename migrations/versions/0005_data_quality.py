"""Data quality: checks, their results, reconciliation watermarks, incidents, notifications.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def _severity() -> postgresql.ENUM:
    return postgresql.ENUM("warning", "critical", name="incident_severity", create_type=False)


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    bind = op.get_bind()
    _severity().create(bind, checkfirst=False)
    op.create_table(
        "dq_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("severity", _severity(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", _TZ, server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dq_checks")),
        sa.UniqueConstraint("key", name=op.f("uq_dq_checks_key")),
    )
    op.create_table(
        "dq_results",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("window_start", _TZ, nullable=False),
        sa.Column("window_end", _TZ, nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("state", sa.Enum("ok", "warning", "failing", name="dq_state"), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "context", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["dq_checks.id"],
            name=op.f("fk_dq_results_check_id_dq_checks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_dq_results_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dq_results")),
        sa.UniqueConstraint(
            "check_id",
            "source_id",
            "window_start",
            "window_end",
            name=op.f("uq_dq_results_check_id_source_id_window_start_window_end"),
        ),
    )
    op.create_index("ix_dq_results_at", "dq_results", ["at"], unique=False)
    op.create_index(
        "ix_dq_results_source_id_check_id_at",
        "dq_results",
        ["source_id", "check_id", "at"],
        unique=False,
    )
    op.create_table(
        "dq_watermarks",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column(
            "granularity",
            postgresql.ENUM("minute", "hour", "day", name="granularity", create_type=False),
            nullable=False,
        ),
        sa.Column("reconciled_through", _TZ, nullable=False),
        sa.Column(
            "unresolved",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_dq_watermarks_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "granularity", name=op.f("pk_dq_watermarks")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("severity", _severity(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "acknowledged", "recovered", "resolved", name="incident_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("opened_at", _TZ, nullable=False),
        sa.Column("last_seen_at", _TZ, nullable=False),
        sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False),
        sa.Column("first_result_id", sa.BigInteger(), nullable=True),
        sa.Column("last_result_id", sa.BigInteger(), nullable=True),
        sa.Column("affected_kpis", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", _TZ, nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated_at", _TZ, nullable=True),
        sa.Column("next_escalation_at", _TZ, nullable=True),
        sa.Column("recovered_at", _TZ, nullable=True),
        sa.Column("resolved_at", _TZ, nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "escalation_level >= 0", name=op.f("ck_incidents_escalation_level_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name=op.f("fk_incidents_acknowledged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_incidents_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["dq_checks.id"],
            name=op.f("fk_incidents_check_id_dq_checks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["first_result_id"],
            ["dq_results.id"],
            name=op.f("fk_incidents_first_result_id_dq_results"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["last_result_id"],
            ["dq_results.id"],
            name=op.f("fk_incidents_last_result_id_dq_results"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["org_units.id"], name=op.f("fk_incidents_owner_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["users.id"], name=op.f("fk_incidents_owner_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_incidents_resolved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_incidents_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(
        "ix_incidents_status_next_escalation_at",
        "incidents",
        ["status", "next_escalation_at"],
        unique=False,
    )
    op.create_index(
        "uq_incidents_source_id_check_id_unresolved",
        "incidents",
        ["source_id", "check_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'resolved'"),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "opened",
                "acknowledged",
                "assigned",
                "commented",
                "escalated",
                "recovered",
                "relapsed",
                "resolved",
                name="incident_event_kind",
            ),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("result_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_incident_events_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_events_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["dq_results.id"],
            name=op.f("fk_incident_events_result_id_dq_results"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    op.create_index(
        "ix_incident_events_incident_id_at", "incident_events", ["incident_id", "at"], unique=False
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("link", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("read_at", _TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_user_id_created_at",
        "notifications",
        ["user_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("incident_events")
    op.drop_table("incidents")
    op.drop_table("dq_watermarks")
    op.drop_table("dq_results")
    op.drop_table("dq_checks")
    for name in ("incident_event_kind", "incident_status", "dq_state", "incident_severity"):
        op.execute(f"DROP TYPE IF EXISTS {name}")
