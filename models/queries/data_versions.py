"""The durable data versions, as the sweep copies them to Redis (``ingest.versions.resync``)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from models.facts import data_versions


def all_data_versions(connection: Connection) -> dict[str, int]:
    """Every data version recorded so far, by name."""
    rows = connection.execute(select(data_versions.c.name, data_versions.c.version))
    return {str(name): int(version) for name, version in rows}
