"""Storage backends for the fact tables: native partitions or TimescaleDB.

The backend is chosen once, by migration 0002, and recorded in ``storage_meta``; the write
path and maintenance ask :func:`installed_backend` which one they are talking to.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from models.settings import StorageBackend


class StorageError(RuntimeError):
    """The storage is not in a state the caller can work with (names what is wrong)."""


def timescale_available(connection: Connection) -> bool:
    """Whether the server can ``CREATE EXTENSION timescaledb``."""
    found = connection.execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    ).first()
    return found is not None


def choose_backend(connection: Connection, requested: StorageBackend) -> StorageBackend:
    """Resolve ``auto`` by what the server offers; refuse ``timescale`` where it is missing."""
    available = timescale_available(connection)
    if requested is StorageBackend.AUTO:
        return StorageBackend.TIMESCALE if available else StorageBackend.NATIVE
    if requested is StorageBackend.TIMESCALE and not available:
        raise StorageError(
            "NORTHSTAR_STORAGE=timescale but the timescaledb extension is not available on "
            "this PostgreSQL server"
        )
    return requested


def installed_backend(connection: Connection) -> StorageBackend:
    """The backend migration 0002 installed; raises StorageError before migrations ran."""
    value = connection.execute(
        text("SELECT value FROM storage_meta WHERE key = 'backend'")
    ).scalar_one_or_none()
    if value is None:
        raise StorageError("fact storage is not installed: run `northstar db upgrade`")
    return StorageBackend(value)
