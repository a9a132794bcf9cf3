"""Core schema: organisation, sources, contracts, metrics, KPIs, users, logs, quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.base import LTree

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS ltree")
    op.create_table(
        "org_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "level",
            sa.Enum("company", "region", "country", "business_unit", name="org_level"),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", LTree(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["org_units.id"], name=op.f("fk_org_units_parent_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_units")),
        sa.UniqueConstraint("key", name=op.f("uq_org_units_key")),
        sa.UniqueConstraint("path", name=op.f("uq_org_units_path")),
    )
    op.create_index(op.f("ix_org_units_parent_id"), "org_units", ["parent_id"], unique=False)
    op.create_index(
        "ix_org_units_path_gist", "org_units", ["path"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("builtin", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
        sa.UniqueConstraint("key", name=op.f("uq_roles_key")),
    )
    op.create_table(
        "storage_meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_storage_meta")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("is_demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(
        "uq_users_lower_email", "users", [sa.literal_column("lower(email)")], unique=True
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("page", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "outcome", sa.Enum("ok", "denied", "error", "throttled", name="outcome"), nullable=False
        ),
        sa.Column("duration_ms", sa.Double(), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_access_log_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index(op.f("ix_access_log_at"), "access_log", ["at"], unique=False)
    op.create_index("ix_access_log_user_id_at", "access_log", ["user_id", "at"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=130), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"], unique=False)
    op.create_table(
        "kpis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("steward_id", sa.Integer(), nullable=True),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), server_default="", nullable=False),
        sa.Column("format", sa.Text(), server_default=",.2f", nullable=False),
        sa.Column(
            "direction",
            sa.Enum("higher_is_better", "lower_is_better", name="direction"),
            server_default="higher_is_better",
            nullable=False,
        ),
        sa.Column("target", sa.Double(), nullable=True),
        sa.Column("warn_threshold", sa.Double(), nullable=True),
        sa.Column("crit_threshold", sa.Double(), nullable=True),
        sa.Column(
            "default_granularity",
            sa.Enum("minute", "hour", "day", name="granularity"),
            server_default="hour",
            nullable=False,
        ),
        sa.Column(
            "levels",
            sa.ARRAY(sa.Enum("company", "region", "country", "business_unit", name="org_level")),
            server_default="{company,region,country,business_unit}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["org_units.id"], name=op.f("fk_kpis_owner_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["steward_id"], ["users.id"], name=op.f("fk_kpis_steward_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpis")),
        sa.UniqueConstraint("key", name=op.f("uq_kpis_key")),
    )
    op.create_table(
        "role_permissions",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column(
            "permission",
            sa.Enum(
                "kpi:view",
                "event:view",
                "pii:view",
                "incident:manage",
                "quarantine:manage",
                "alert:manage",
                "source:manage",
                "user:manage",
                "audit:view",
                name="permission",
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["roles.id"],
            name=op.f("fk_role_permissions_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_id", "permission", name=op.f("pk_role_permissions")),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("steward_id", sa.Integer(), nullable=True),
        sa.Column(
            "refresh_mode",
            sa.Enum("streaming", "microbatch", "scheduled", name="refresh_mode"),
            nullable=False,
        ),
        sa.Column("freshness_sla_s", sa.Integer(), nullable=False),
        sa.Column("expected_volume_per_15m", sa.Integer(), nullable=True),
        sa.Column("retention_days", sa.Integer(), server_default="90", nullable=False),
        sa.Column(
            "sensitivity",
            sa.Enum("public", "internal", "confidential", "pii", name="classification"),
            server_default="internal",
            nullable=False,
        ),
        sa.Column("partner_agreement_ref", sa.Text(), nullable=True),
        sa.Column("partner_agreement_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("freshness_sla_s > 0", name=op.f("ck_sources_freshness_sla_positive")),
        sa.CheckConstraint("retention_days > 0", name=op.f("ck_sources_retention_positive")),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["org_units.id"], name=op.f("fk_sources_owner_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["steward_id"], ["users.id"], name=op.f("fk_sources_steward_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("key", name=op.f("uq_sources_key")),
    )
    op.create_index(op.f("ix_sources_owner_unit_id"), "sources", ["owner_unit_id"], unique=False)
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column(
            "granted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["users.id"], name=op.f("fk_user_roles_granted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name=op.f("fk_user_roles_role_id_roles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_user_roles")),
    )
    op.create_table(
        "user_scopes",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column(
            "granted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("granted_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["users.id"], name=op.f("fk_user_scopes_granted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_user_scopes_org_unit_id_org_units"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_scopes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "org_unit_id", name=op.f("pk_user_scopes")),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=130), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_metrics_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
        sa.UniqueConstraint("key", name=op.f("uq_metrics_key")),
    )
    op.create_index(
        "uq_metrics_source_id_measure",
        "metrics",
        ["source_id", sa.literal_column("coalesce(measure, '')")],
        unique=True,
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=True),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("record_index", sa.Integer(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("field", sa.String(length=200), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("open", "replayed", "discarded", name="quarantine_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("acted_by", sa.Integer(), nullable=True),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acted_by"], ["users.id"], name=op.f("fk_quarantine_acted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_quarantine_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(
        "ix_quarantine_source_id_status_received_at",
        "quarantine",
        ["source_id", "status", "received_at"],
        unique=False,
    )
    op.create_table(
        "source_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_source_api_keys_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_source_api_keys_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_source_api_keys_key_hash")),
    )
    op.create_index(
        op.f("ix_source_api_keys_source_id"), "source_api_keys", ["source_id"], unique=False
    )
    op.create_table(
        "source_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_source_contracts_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_source_contracts_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_contracts")),
        sa.UniqueConstraint(
            "source_id", "version", name=op.f("uq_source_contracts_source_id_version")
        ),
    )
    op.create_table(
        "kpi_metrics",
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("metric_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_metrics_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"], ["metrics.id"], name=op.f("fk_kpi_metrics_metric_id_metrics")
        ),
        sa.PrimaryKeyConstraint("kpi_id", "metric_id", name=op.f("pk_kpi_metrics")),
    )

    # access_log and audit_log are append-only: a trigger refuses UPDATE and DELETE.
    op.execute(
        """
        CREATE FUNCTION forbid_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
        END $$
        """
    )
    for table in ("access_log", "audit_log"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION forbid_log_change()"
        )


def downgrade() -> None:
    for table in ("access_log", "audit_log"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS forbid_log_change()")
    op.drop_table("kpi_metrics")
    op.drop_table("source_contracts")
    op.drop_index(op.f("ix_source_api_keys_source_id"), table_name="source_api_keys")
    op.drop_table("source_api_keys")
    op.drop_index("ix_quarantine_source_id_status_received_at", table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index("uq_metrics_source_id_measure", table_name="metrics")
    op.drop_table("metrics")
    op.drop_table("user_scopes")
    op.drop_table("user_roles")
    op.drop_index(op.f("ix_sources_owner_unit_id"), table_name="sources")
    op.drop_table("sources")
    op.drop_table("role_permissions")
    op.drop_table("kpis")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_access_log_user_id_at", table_name="access_log")
    op.drop_index(op.f("ix_access_log_at"), table_name="access_log")
    op.drop_table("access_log")
    op.drop_index("uq_users_lower_email", table_name="users")
    op.drop_table("users")
    op.drop_table("storage_meta")
    op.drop_table("roles")
    op.drop_index("ix_org_units_path_gist", table_name="org_units", postgresql_using="gist")
    op.drop_index(op.f("ix_org_units_parent_id"), table_name="org_units")
    op.drop_table("org_units")
    for enum in (
        "org_level",
        "outcome",
        "direction",
        "granularity",
        "permission",
        "refresh_mode",
        "classification",
        "quarantine_status",
    ):
        op.execute(f"DROP TYPE IF EXISTS {enum}")
