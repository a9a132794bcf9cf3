"""Bulk writes of the quarantine: rejected records, replay status changes, schema drift events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, bindparam, null, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from models.enums import DriftKind, QuarantineStatus
from models.quarantine import QuarantinedRecord, SchemaDrift
from models.safe_json import escaped_text, storable_payload

_CHUNK = 1000
"""Rows per INSERT statement: well under PostgreSQL's 65,535 bind parameters."""


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """One record to quarantine; ``(batch_id, record_index)`` identifies it across retries."""

    source_id: int | None
    source_key: str
    contract_version: int | None
    batch_id: uuid.UUID
    record_index: int
    rule: str
    reason: str
    field: str | None = None
    payload: Any = None
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class OpenRecord:
    """An open quarantined record, as replay re-validates it."""

    id: int
    record_index: int | None
    payload: Any
    raw: str | None
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class NewReason:
    """Why a record still fails, after a replay against the current contract."""

    id: int
    contract_version: int | None
    field: str | None
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class DriftRow:
    source_id: int
    contract_version: int
    field: str
    kind: DriftKind
    window_start: dt.datetime
    window_end: dt.datetime
    records: int
    occurrences: int
    share: float


def _values(row: QuarantineRow) -> dict[str, Any]:
    # Whatever the record holds, the row must be insertable: a payload jsonb cannot hold
    # (U+0000, a lone surrogate, a huge integer) is kept as escaped JSON text in ``raw``.
    payload, raw = storable_payload(row.payload, row.raw)
    return {
        "source_id": row.source_id,
        "source_key": escaped_text(row.source_key)[:64],
        "contract_version": row.contract_version,
        "batch_id": row.batch_id,
        "record_index": row.record_index,
        # SQL NULL, not a JSON null, when there is no parsed payload.
        "payload": null() if payload is None else payload,
        "raw": raw,
        "field": None if row.field is None else escaped_text(row.field)[:200],
        "rule": row.rule,
        "reason": escaped_text(row.reason),
    }


def insert_quarantined(
    connection: Connection, rows: Sequence[QuarantineRow]
) -> frozenset[tuple[uuid.UUID, int]]:
    """Insert rows not quarantined before (same batch and index: skipped).

    Returns:
        The ``(batch_id, record_index)`` of the rows actually inserted.
    """
    inserted: set[tuple[uuid.UUID, int]] = set()
    for start in range(0, len(rows), _CHUNK):
        statement = (
            insert(QuarantinedRecord)
            .values([_values(row) for row in rows[start : start + _CHUNK]])
            .on_conflict_do_nothing(index_elements=["batch_id", "record_index"])
            .returning(QuarantinedRecord.batch_id, QuarantinedRecord.record_index)
        )
        inserted.update(
            (b, i) for b, i in connection.execute(statement) if b is not None and i is not None
        )
    return frozenset(inserted)


def lock_open_records(
    connection: Connection, source_id: int, match: str | None, after_id: int, limit: int
) -> list[OpenRecord]:
    """Open records of a source after ``after_id``, oldest first, locked for this transaction.

    Args:
        match: only records whose rule equals it or whose reason contains it (None: all).
    """
    q = QuarantinedRecord
    statement = (
        select(q.id, q.record_index, q.payload, q.raw, q.rule, q.reason)
        .where(q.source_id == source_id, q.status == QuarantineStatus.OPEN, q.id > after_id)
        .order_by(q.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if match is not None:
        statement = statement.where(match_clause(match))
    return [OpenRecord(*row) for row in connection.execute(statement)]


def match_clause(match: str) -> ColumnElement[bool]:
    """Records whose rule is ``match`` or whose reason contains it (case-insensitive): what
    replay's ``--reason`` selects, shared with the steward console so both select alike."""
    q = QuarantinedRecord
    return or_(q.rule == match, q.reason.icontains(match))


def mark_replayed(
    connection: Connection, ids: Sequence[int], acted_by: int | None, note: str
) -> None:
    if not ids:
        return
    connection.execute(
        update(QuarantinedRecord)
        .where(QuarantinedRecord.id.in_(ids))
        .values(
            status=QuarantineStatus.REPLAYED,
            acted_by=acted_by,
            acted_at=dt.datetime.now(dt.UTC),
            note=note,
        )
    )


def mark_discarded(
    connection: Connection, ids: Sequence[int], acted_by: int | None, note: str, at: dt.datetime
) -> int:
    """Discard the records among ``ids`` that are still open; returns how many changed."""
    if not ids:
        return 0
    q = QuarantinedRecord
    result = connection.execute(
        update(q)
        .where(q.id.in_(ids), q.status == QuarantineStatus.OPEN)
        .values(status=QuarantineStatus.DISCARDED, acted_by=acted_by, acted_at=at, note=note)
        .returning(q.id)
    )
    return len(result.all())


def update_reasons(connection: Connection, reasons: Sequence[NewReason]) -> None:
    """Record why each record still fails; its status stays open."""
    if not reasons:
        return
    table = QuarantinedRecord.__table__
    assert isinstance(table, Table)
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            contract_version=bindparam("b_version"),
            field=bindparam("b_field"),
            rule=bindparam("b_rule"),
            reason=bindparam("b_reason"),
        )
    )
    connection.execute(
        statement,
        [
            {
                "b_id": r.id,
                "b_version": r.contract_version,
                "b_field": r.field,
                "b_rule": r.rule,
                "b_reason": r.reason,
            }
            for r in reasons
        ],
    )


def insert_drift(connection: Connection, rows: Sequence[DriftRow]) -> int:
    """Insert drift events not recorded before (same source, version, field, kind, window)."""
    if not rows:
        return 0
    statement = (
        insert(SchemaDrift)
        .values(
            [
                {
                    "source_id": r.source_id,
                    "contract_version": r.contract_version,
                    "field": r.field,
                    "kind": r.kind,
                    "window_start": r.window_start,
                    "window_end": r.window_end,
                    "records": r.records,
                    "occurrences": r.occurrences,
                    "share": r.share,
                }
                for r in rows
            ]
        )
        .on_conflict_do_nothing(
            index_elements=["source_id", "contract_version", "field", "kind", "window_start"]
        )
        .returning(SchemaDrift.id)
    )
    return len(connection.execute(statement).all())
