"""How a source's recent records would fare under a proposed contract version (a dry run).

The admin console shows it before a new version is saved. Two sets are checked by the
proposed contract's compiled validator, the one the ingest edge would use:

- the newest stored events of the source, rebuilt as their producer sent them (field names of
  the current contract, as ``ingest.decode.record_payload`` rebuilds records for replay);
- its newest quarantined records that were not replayed (their parsed payloads; raw text is
  parsed as JSON when that is all there is).

A record that passes is then checked for its org unit, as the worker would (rule
``unknown_org_unit``). Nothing is written. Records are checked as JSON (strictly), as the
events endpoint checks them; fields outside the contract a stored event came in under were
not kept, so a newly required field always fails for stored events.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ingest import streams
from ingest.contracts import CompiledContract, RecordError, compile_contract
from ingest.decode import quarantined_payload, record_payload
from models.contracts import Contract, FieldRole, FieldType
from models.queries import reference
from models.queries.admin.sources import (
    StoredEvent,
    recent_events,
    recent_quarantine,
)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

Reason = tuple[str | None, str]
"""Why records fail: the field (None when the record as a whole) and the rule."""


@dataclass
class Tally:
    """What happened to one set of records."""

    checked: int = 0
    passed: int = 0
    unreadable: int = 0
    """Quarantined records kept only as text that is not JSON: they cannot be checked."""
    failures: Counter[Reason] = field(default_factory=Counter)
    examples: dict[Reason, str] = field(default_factory=dict)
    """One reason text per (field, rule), as a producer would be told it."""

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def fail(self, error: RecordError) -> None:
        reason = (error.field, error.rule)
        self.failures[reason] += 1
        self.examples.setdefault(reason, error.reason)


@dataclass(frozen=True, slots=True)
class ContractPreview:
    """The dry run of a proposed version over the newest stored and quarantined records."""

    version: int
    events: Tally
    quarantine: Tally


def _typed(value: str, kind: FieldType) -> Any:
    """An event id or org unit key (stored as text) in the type its contract field has."""
    try:
        if kind is FieldType.INT:
            return int(value)
        if kind is FieldType.FLOAT:
            return float(value)
    except ValueError:
        return value
    return value


def rebuilt_event(event: StoredEvent, contract: Contract | None) -> dict[str, Any]:
    """A stored event as its producer sent it, in the field names of ``contract``."""
    record = streams.StreamRecord(
        0,
        event.event_id,
        (event.ts - _EPOCH) // _MICROSECOND,
        event.org_unit_key or "",
        dict(event.measures),
        dict(event.dims),
        dict(event.attrs),
    )
    payload = record_payload(contract, record)
    if contract is not None:
        for role in (FieldRole.EVENT_ID, FieldRole.ORG_UNIT):
            for spec in contract.by_role(role):
                payload[spec.name] = _typed(str(payload[spec.name]), spec.type)
    return payload


def check_records(
    connection: Connection, compiled: CompiledContract, records: Sequence[Any]
) -> Tally:
    """Validate each record, then look up the org unit of those that pass (None: unreadable)."""
    tally = Tally()
    passed: list[streams.StreamRecord] = []
    for index, record in enumerate(records):
        if record is None:
            tally.unreadable += 1
            continue
        tally.checked += 1
        result = compiled.validate(record, index)
        if isinstance(result, RecordError):
            tally.fail(result)
        else:
            passed.append(result)
    units = reference.org_unit_ids(connection, {r.org_unit for r in passed})
    inactive = reference.inactive_org_units(connection, {r.org_unit for r in passed} - units.keys())
    unit_field = compiled.contract.by_role(FieldRole.ORG_UNIT)[0].name
    for record in passed:
        if record.org_unit in units:
            tally.passed += 1
        else:
            why = reference.unit_refusal(record.org_unit, inactive)
            tally.fail(RecordError(record.index, unit_field, "unknown_org_unit", why))
    return tally


def preview_contract(
    connection: Connection,
    source_id: int,
    source_key: str,
    proposed: Contract,
    *,
    limit: int,
) -> ContractPreview:
    """Check the source's ``limit`` newest stored events and ``limit`` newest quarantined
    records (not replayed) against ``proposed``."""
    compiled = compile_contract(source_id, source_key, proposed)
    current = reference.current_contract(connection, source_id)
    events = [rebuilt_event(e, current) for e in recent_events(connection, source_id, limit=limit)]
    held = [
        quarantined_payload(q.payload, q.raw)
        for q in recent_quarantine(connection, source_id, limit=limit)
    ]
    return ContractPreview(
        version=proposed.version,
        events=check_records(connection, compiled, events),
        quarantine=check_records(connection, compiled, held),
    )
