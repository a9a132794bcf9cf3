"""TimescaleDB rollups refreshed by Northstar: a queue of touched ranges, no refresh policies.

Both backends get ``rollup_refresh_pending`` (only the TimescaleDB write fills it). On the
TimescaleDB backend the continuous aggregates are rebuilt with a ``sum_sq`` that cannot
overflow (``models.facts.square``), without TimescaleDB's refresh policies, and one pending
range covering all time is queued so that the next refresh job materialises every closed
bucket still backed by raw values (see docs/storage.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.storage import timescale

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def _backend() -> str | None:
    value = (
        op.get_bind()
        .exec_driver_sql("SELECT value FROM storage_meta WHERE key = 'backend'")
        .scalar_one_or_none()
    )
    return None if value is None else str(value)


def upgrade() -> None:
    op.create_table(
        "rollup_refresh_pending",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("lo", _TZ, nullable=False),
        sa.Column("hi", _TZ, nullable=False),
        sa.Column("metric_ids", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("recorded_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_refresh_pending")),
    )
    if _backend() == "timescale":
        for statement in timescale.REBUILD:
            op.execute(statement)


def downgrade() -> None:
    if _backend() == "timescale":
        for statement in timescale.REBUILD_DOWN:
            op.execute(statement)
    op.drop_table("rollup_refresh_pending")
