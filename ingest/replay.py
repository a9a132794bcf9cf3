"""Quarantine replay: re-validate a source's open records against its current contract.

Records that now pass (and whose org unit exists) are re-ingested through the streams, the same
path as the API's, and marked ``replayed``; the others stay ``open`` with the rule and reason
of the current contract. One replay is one transaction and one audit row. The records are
published before that transaction commits: if the commit fails, they are ingested but still
open, and replaying again is harmless (events are deduplicated by identity).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field

import msgspec
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ingest import jobs, streams
from ingest.bounds import EventWindow
from ingest.contracts import CompiledContract, RecordError, compile_contract
from ingest.decode import quarantined_payload
from ingest.runtime import Services
from models.audit import Actor, record_change
from models.contracts import FieldRole
from models.quarantine_store import (
    NewReason,
    OpenRecord,
    lock_open_records,
    mark_replayed,
    update_reasons,
)
from models.queries import reference

CHUNK = 1_000


@dataclass
class ReplayReport:
    """What a replay did (or, with ``dry_run``, would do)."""

    source_key: str
    contract_version: int
    dry_run: bool
    examined: int = 0
    replayed: int = 0
    still_failing: int = 0
    unreadable: int = 0
    """Records without a parsed payload (e.g. broken JSON): they cannot be re-validated."""
    by_rule: Counter[str] = field(default_factory=Counter)
    """Still-failing records by their new rule."""
    batch_ids: list[str] = field(default_factory=list)


@dataclass
class _Chunk:
    passed: list[tuple[int, streams.StreamRecord]] = field(default_factory=list)
    reasons: list[NewReason] = field(default_factory=list)


def _check(
    connection: Connection,
    compiled: CompiledContract,
    rows: list[OpenRecord],
    report: ReplayReport,
    window: EventWindow,
) -> _Chunk:
    chunk = _Chunk()
    for row in rows:
        payload = quarantined_payload(row.payload, row.raw)
        if payload is None:
            report.unreadable += 1
            continue
        result = compiled.validate(payload, len(chunk.passed), window=window)
        if isinstance(result, RecordError):
            chunk.reasons.append(
                NewReason(row.id, compiled.version, result.field, result.rule, result.reason)
            )
        else:
            chunk.passed.append((row.id, result))
    # Referential integrity, as the worker would check it: a missing unit stays quarantined.
    units = reference.org_unit_ids(connection, {r.org_unit for _, r in chunk.passed})
    inactive = reference.inactive_org_units(
        connection, {r.org_unit for _, r in chunk.passed} - units.keys()
    )
    unit_field = compiled.contract.by_role(FieldRole.ORG_UNIT)[0].name
    kept = []
    for row_id, record in chunk.passed:
        if record.org_unit in units:
            kept.append((row_id, record))
        else:
            why = reference.unit_refusal(record.org_unit, inactive)
            chunk.reasons.append(
                NewReason(row_id, compiled.version, unit_field, "unknown_org_unit", why)
            )
    chunk.passed = [(row_id, _reindexed(r, i)) for i, (row_id, r) in enumerate(kept)]
    return chunk


def _reindexed(record: streams.StreamRecord, index: int) -> streams.StreamRecord:
    return msgspec.structs.replace(record, index=index)


def _publish(
    services: Services, compiled: CompiledContract, chunk: _Chunk
) -> tuple[str, list[int]]:
    """Publish the passing records as one replay batch; returns its id and partitions."""
    batch_id = str(uuid.uuid4())
    settings = services.settings
    records = [r for _, r in chunk.passed]
    envelopes = {
        p: streams.Envelope(
            batch_id, compiled.source_id, compiled.source_key, compiled.version, time.time(), recs
        )
        for p, recs in streams.split_by_partition(
            records, compiled.source_id, settings.ingest_partitions
        ).items()
    }
    partitions = streams.publish(
        services.redis, envelopes, (), max_backlog=settings.ingest_max_backlog
    )
    return batch_id, partitions


def replay_source(
    services: Services,
    source_key: str,
    actor: Actor,
    *,
    match: str | None = None,
    dry_run: bool = False,
    note: str = "",
) -> ReplayReport:
    """Re-validate the open quarantined records of ``source_key`` (only those whose rule is
    ``match`` or whose reason contains it, if given) and re-ingest those that pass.

    Raises:
        LookupError: no such source, or it has no contract.
        ingest.streams.Backpressure: the streams are full; nothing was changed.
    """
    with Session(services.engine) as session, session.begin():
        connection = session.connection()
        source = reference.source_by_key(connection, source_key)
        if source is None:
            raise LookupError(f"no source with key {source_key!r}")
        contract = reference.current_contract(connection, source.id)
        if contract is None:
            raise LookupError(f"source {source_key!r} has no contract")
        compiled = compile_contract(source.id, source.key, contract)
        report = ReplayReport(source.key, contract.version, dry_run)
        partitions = _replay_chunks(services, connection, compiled, match, report, note, actor)
        if dry_run:
            session.rollback()
            return report
        detail = {"match": match, "contract_version": contract.version, "note": note}
        detail |= {k: v for k, v in asdict(report).items() if k not in ("source_key", "dry_run")}
        record_change(session, actor, "quarantine.replay", "source", source.key, detail=detail)
    if partitions:
        jobs.trigger_drain(services, partitions)
    return report


def _replay_chunks(
    services: Services,
    connection: Connection,
    compiled: CompiledContract,
    match: str | None,
    report: ReplayReport,
    note: str,
    actor: Actor,
) -> set[int]:
    partitions: set[int] = set()
    after_id = 0
    while rows := lock_open_records(connection, compiled.source_id, match, after_id, CHUNK):
        after_id = rows[-1].id
        report.examined += len(rows)
        window = EventWindow.from_settings(services.settings)
        chunk = _check(connection, compiled, rows, report, window)
        report.still_failing += len(chunk.reasons)
        report.by_rule.update(r.rule for r in chunk.reasons)
        report.replayed += len(chunk.passed)
        if report.dry_run:
            continue
        if chunk.passed:
            batch_id, published = _publish(services, compiled, chunk)
            report.batch_ids.append(batch_id)
            partitions.update(published)
            note_text = note or f"replayed as batch {batch_id}"
            mark_replayed(connection, [i for i, _ in chunk.passed], actor.user_id, note_text)
        update_reasons(connection, chunk.reasons)
    return partitions
