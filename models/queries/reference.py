"""Reference lookups of the ingest workers: org unit keys, sources and their contract versions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.contracts import Contract


@dataclass(frozen=True, slots=True)
class SourceRef:
    """What replay and the workers need to know about a source."""

    id: int
    key: str
    active: bool


def org_unit_ids(connection: Connection, keys: Collection[str]) -> dict[str, int]:
    """The ids of the active org units among ``keys`` (unknown and deactivated keys are
    absent: neither takes new events)."""
    if not keys:
        return {}
    rows = connection.execute(
        text("SELECT key, id FROM org_units WHERE key = ANY(:keys) AND active"),
        {"keys": list(keys)},
    )
    return {str(key): int(unit_id) for key, unit_id in rows}


def inactive_org_units(connection: Connection, keys: Collection[str]) -> set[str]:
    """The keys among ``keys`` of org units that exist but are deactivated."""
    if not keys:
        return set()
    rows = connection.execute(
        text("SELECT key FROM org_units WHERE key = ANY(:keys) AND NOT active"),
        {"keys": list(keys)},
    )
    return {str(key) for key in rows.scalars()}


def unit_refusal(key: str, inactive: Collection[str]) -> str:
    """Why a record naming org unit ``key`` (not among the active units) is quarantined."""
    if key in inactive:
        return f"org unit {key!r} is deactivated and takes no new events"
    return f"unknown org unit {key!r}"


def source_by_key(connection: Connection, key: str) -> SourceRef | None:
    row = connection.execute(
        text("SELECT id, key, active FROM sources WHERE key = :key"), {"key": key}
    ).first()
    return None if row is None else SourceRef(int(row[0]), str(row[1]), bool(row[2]))


def contract_version(connection: Connection, source_id: int, version: int) -> Contract | None:
    """One stored version of a source's contract (versions never change once written)."""
    row = connection.execute(
        text(
            "SELECT version, fields FROM source_contracts "
            "WHERE source_id = :source AND version = :version"
        ),
        {"source": source_id, "version": version},
    ).first()
    return None if row is None else Contract.from_row(int(row[0]), row[1])


def current_contract(connection: Connection, source_id: int) -> Contract | None:
    """The newest version of a source's contract, None when it has none."""
    row = connection.execute(
        text(
            "SELECT version, fields FROM source_contracts WHERE source_id = :source "
            "ORDER BY version DESC LIMIT 1"
        ),
        {"source": source_id},
    ).first()
    return None if row is None else Contract.from_row(int(row[0]), row[1])
