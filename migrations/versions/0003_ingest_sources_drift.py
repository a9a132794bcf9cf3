"""Ingest: pulled sources, schema drift events, idempotent quarantine.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schema_drift",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column(
            "kind", sa.Enum("unknown_field", "type_mismatch", name="drift_kind"), nullable=False
        ),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("share", sa.Double(), nullable=False),
        sa.Column(
            "detected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_schema_drift_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schema_drift")),
        sa.UniqueConstraint(
            "source_id",
            "contract_version",
            "field",
            "kind",
            "window_start",
            name=op.f("uq_schema_drift_source_id_contract_version_field_kind_window_start"),
        ),
    )
    op.create_index(
        "uq_quarantine_batch_id_record_index",
        "quarantine",
        ["batch_id", "record_index"],
        unique=True,
    )
    pull_kind = sa.Enum("http", "sql", name="pull_kind")
    pull_kind.create(op.get_bind(), checkfirst=False)
    op.add_column("sources", sa.Column("pull_kind", pull_kind, nullable=True))
    op.add_column("sources", sa.Column("pull_target", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("pull_query", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("pull_interval_s", sa.Integer(), nullable=True))
    op.add_column("sources", sa.Column("pull_watermark", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("last_pulled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "last_pulled_at")
    op.drop_column("sources", "pull_watermark")
    op.drop_column("sources", "pull_interval_s")
    op.drop_column("sources", "pull_query")
    op.drop_column("sources", "pull_target")
    op.drop_column("sources", "pull_kind")
    op.drop_index("uq_quarantine_batch_id_record_index", table_name="quarantine")
    op.drop_table("schema_drift")
    op.execute("DROP TYPE IF EXISTS pull_kind")
    op.execute("DROP TYPE IF EXISTS drift_kind")
