"""Fact storage: raw events and the 1m/1h/1d rollups, native or TimescaleDB.

The backend is chosen here, once: ``NORTHSTAR_STORAGE`` (native | timescale | auto, where auto
takes TimescaleDB when the extension is available) and recorded in ``storage_meta``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from models.settings import StorageBackend, get_settings
from models.storage import choose_backend, native, timescale

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    backend = choose_backend(connection, get_settings().storage)
    if backend is StorageBackend.TIMESCALE:
        for statement in timescale.INSTALL:
            op.execute(statement)
    else:
        for statement in native.INSTALL:
            op.execute(statement)
    connection.exec_driver_sql(
        "INSERT INTO storage_meta (key, value) VALUES ('backend', %s)", (backend.value,)
    )


def downgrade() -> None:
    connection = op.get_bind()
    backend = connection.exec_driver_sql(
        "SELECT value FROM storage_meta WHERE key = 'backend'"
    ).scalar_one_or_none()
    statements = timescale.UNINSTALL if backend == "timescale" else native.UNINSTALL
    for statement in statements:
        op.execute(statement)
    op.execute("DELETE FROM storage_meta WHERE key = 'backend'")
