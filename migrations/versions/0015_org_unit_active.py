"""Org units can be deactivated.

Adds ``org_units.active`` (true for every existing unit). A deactivated unit keeps its history
but leaves the pickers and takes no new events (the worker quarantines them). The
``catalog:manage`` permission that the org tree page needs comes with migration 0014.

The downgrade drops the column.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "org_units",
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("org_units", "active")
