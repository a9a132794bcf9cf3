"""Turning drained stream entries into event rows and quarantine rows (the drain's middle step).

Parsing (msgpack → envelope or rejections) needs nothing but the entry; building rows resolves
org unit keys through cached lookups in the batch's own transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Connection

from ingest import streams
from ingest.bounds import EventWindow
from models.contracts import Contract, FieldRole, FieldType
from models.quarantine_store import QuarantineRow
from models.queries import reference
from models.safe_json import escaped_json
from models.writes import EventRow

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_BATCH_NAMESPACE = uuid.UUID("6f1d2c4e-3b9a-4f6e-9d51-0c7a8e2b4d10")
UNKNOWN_SOURCE = "unknown"


def batch_uuid(batch_id: str) -> uuid.UUID:
    """The quarantine table's batch id: the API's UUID, or a stable UUID derived from it."""
    try:
        return uuid.UUID(batch_id)
    except ValueError:
        return uuid.uuid5(_BATCH_NAMESPACE, batch_id)


def event_time(ts_us: int) -> dt.datetime:
    # Integer arithmetic: exact to the microsecond, unlike fromtimestamp(float).
    return _EPOCH + dt.timedelta(microseconds=ts_us)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A stream entry, decoded: an envelope, a list of rejections, or why it did not decode."""

    entry_id: bytes
    stream: str
    envelope: streams.Envelope | None = None
    rejections: list[streams.Rejection] | None = None
    error: str | None = None
    raw: bytes = b""

    @property
    def records(self) -> int:
        if self.envelope is not None:
            return len(self.envelope.records)
        return len(self.rejections or ()) or 1


def event_times(
    entries: Sequence[Parsed], poison: Collection[bytes], window: EventWindow
) -> Iterator[dt.datetime]:
    """The event times an entry batch will write (to prepare storage before the transaction).

    Poisoned entries are quarantined, not written, and records outside ``window`` are
    quarantined too: no storage is prepared for either.
    """
    now_s = time.time()
    for entry in entries:
        if entry.envelope is not None and entry.entry_id not in poison:
            # One per distinct day is all storage needs; whole records would be wasteful.
            days = {
                record.ts_us // 86_400_000_000
                for record in entry.envelope.records
                if window.problem(record.ts_us, now_s) is None
            }
            yield from (event_time(day * 86_400_000_000) for day in days)


def parse_entry(stream: str, entry: streams.Entry) -> Parsed:
    """Decode an entry of ``stream``; one that does not decode says why (it is quarantined)."""
    try:
        if streams.ENVELOPE_FIELD in entry.fields:
            envelope = streams.decode_envelope(entry.fields[streams.ENVELOPE_FIELD])
            return Parsed(entry.id, stream, envelope=envelope)
        if streams.REJECTIONS_FIELD in entry.fields:
            rejections = streams.decode_rejections(entry.fields[streams.REJECTIONS_FIELD])
            return Parsed(entry.id, stream, rejections=rejections)
        error = f"no known field among {sorted(f.decode(errors='replace') for f in entry.fields)}"
    except msgspec.DecodeError as exc:
        error = str(exc)
    raw = b"".join(entry.fields.values())
    return Parsed(entry.id, stream, error=error, raw=raw)


class References:
    """Cached reference lookups of one worker process.

    Known org units are cached for ``ttl_s``; unknown keys are looked up again every batch, so
    a unit created a moment ago is found at once; a unit deactivated a moment ago is still
    taken for up to ``ttl_s``. Contract versions never change: cached.
    """

    def __init__(self, ttl_s: float = 300.0) -> None:
        self.ttl_s = ttl_s
        self._units: dict[str, int] = {}
        self._units_loaded = time.monotonic()
        self._contracts: dict[tuple[int, int], Contract | None] = {}

    def unit_ids(self, connection: Connection, keys: Collection[str]) -> dict[str, int]:
        if time.monotonic() - self._units_loaded > self.ttl_s:
            self._units, self._units_loaded = {}, time.monotonic()
        missing = [k for k in keys if k not in self._units]
        if missing:
            self._units.update(reference.org_unit_ids(connection, missing))
        return {k: self._units[k] for k in keys if k in self._units}

    def contract(self, connection: Connection, source_id: int, version: int) -> Contract | None:
        if (source_id, version) not in self._contracts:
            if len(self._contracts) > 10_000:
                self._contracts.clear()
            found = reference.contract_version(connection, source_id, version)
            self._contracts[(source_id, version)] = found
        return self._contracts[(source_id, version)]


def quarantined_payload(payload: Any, raw: str | None) -> Any:
    """A quarantined record as it can be checked again: its parsed payload, else its raw text
    parsed as JSON; None when neither gives one (unreadable)."""
    if payload is not None:
        return payload
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def record_payload(contract: Contract | None, record: streams.StreamRecord) -> dict[str, Any]:
    """The record as the producer sent it (field names of its contract), for replay."""

    def name(role: FieldRole, default: str) -> str:
        fields = contract.by_role(role) if contract else ()
        return fields[0].name if fields else default

    payload: dict[str, Any] = {**record.dims, **record.attrs}
    for measure, value in record.measures.items():
        spec = contract.field_named(measure) if contract else None
        whole = spec is not None and spec.type is FieldType.INT and float(value).is_integer()
        payload[measure] = int(value) if whole else value
    payload[name(FieldRole.EVENT_ID, "event_id")] = record.event_id
    payload[name(FieldRole.TIMESTAMP, "ts")] = _time_text(record.ts_us)
    payload[name(FieldRole.ORG_UNIT, "org_unit")] = record.org_unit
    return payload


def _time_text(ts_us: int) -> str:
    try:
        return event_time(ts_us).isoformat()
    except OverflowError:  # beyond what a datetime can hold: kept as the number it was
        return f"{ts_us} microseconds since 1970-01-01T00:00:00Z"


@dataclass
class Decoded:
    """A batch ready to write: event rows by source, quarantine rows, and what to observe."""

    rows: dict[tuple[int, str], list[EventRow]] = field(default_factory=dict)
    quarantine: list[QuarantineRow] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)
    entries: int = 0
    records: int = 0
    poisoned: int = 0

    @property
    def event_rows(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def rows_by_source(self) -> Iterator[tuple[str, list[EventRow]]]:
        """Rows per source in source-id order: writers lock rollup rows in the same order."""
        for (_, source_key), rows in sorted(self.rows.items()):
            yield source_key, rows


def build_batch(
    connection: Connection,
    refs: References,
    parsed: Sequence[Parsed],
    poison: Mapping[bytes, str],
    window: EventWindow,
    unwritable: Mapping[bytes, Mapping[int, str]] | None = None,
) -> Decoded:
    """Event rows and quarantine rows of ``parsed`` (entries in ``poison`` quarantined whole,
    records outside the event-time ``window`` and those ``unwritable`` names by entry id and
    record index, with the error of their write, quarantined one by one)."""
    decoded = Decoded(entries=len(parsed))
    now_s = time.time()
    keys = {
        r.org_unit
        for p in parsed
        if p.envelope is not None and p.entry_id not in poison
        for r in p.envelope.records
    }
    units = refs.unit_ids(connection, keys)
    inactive = reference.inactive_org_units(connection, keys - units.keys())
    for item in parsed:
        decoded.records += item.records
        if item.error is not None:
            decoded.quarantine.append(_undecodable(item))
        elif item.rejections is not None and item.entry_id in poison:
            decoded.poisoned += 1
            decoded.quarantine.append(_poisoned_rejections(item, poison[item.entry_id]))
        elif item.rejections is not None:
            decoded.quarantine.extend(_rejected(r) for r in item.rejections)
        elif item.envelope is not None and item.entry_id in poison:
            decoded.poisoned += 1
            _quarantine_all(connection, refs, item.envelope, poison[item.entry_id], decoded)
        elif item.envelope is not None:
            failed = (unwritable or {}).get(item.entry_id, {})
            checks = _RowChecks(window, now_s, failed)
            _rows(connection, refs, item.envelope, (units, inactive), decoded, checks)
    return decoded


@dataclass(frozen=True, slots=True)
class _RowChecks:
    """What keeps a record of an entry from being written: its time, or a failed write."""

    window: EventWindow
    now_s: float
    unwritable: Mapping[int, str]

    def problem(self, record: streams.StreamRecord) -> tuple[str, str] | None:
        outside = self.window.problem(record.ts_us, self.now_s)
        if outside is not None:
            # Published before the edge checked the window, or by a replay: never stored.
            return "time_range", f"the event time {_time_text(record.ts_us)} {outside}"
        failed = self.unwritable.get(record.index)
        if failed is not None:
            return "unwritable", f"the record could not be written: {failed}"
        return None


def _rows(
    connection: Connection,
    refs: References,
    envelope: streams.Envelope,
    known: tuple[Mapping[str, int], Collection[str]],
    decoded: Decoded,
    checks: _RowChecks,
) -> None:
    units, inactive = known
    rows = decoded.rows.setdefault((envelope.source_id, envelope.source_key), [])
    decoded.accepted_at.append(envelope.accepted_at)
    for record in envelope.records:
        problem = checks.problem(record)
        if problem is not None:
            rule, reason = problem
            decoded.quarantine.append(
                _quarantined(connection, refs, envelope, record, rule=rule, reason=reason)
            )
            continue
        unit_id = units.get(record.org_unit)
        if unit_id is None:
            decoded.quarantine.append(
                _quarantined(
                    connection,
                    refs,
                    envelope,
                    record,
                    rule="unknown_org_unit",
                    reason=reference.unit_refusal(record.org_unit, inactive),
                    org_unit_field=True,
                )
            )
            continue
        rows.append(
            EventRow(
                ts=event_time(record.ts_us),
                source_id=envelope.source_id,
                event_id=record.event_id,
                org_unit_id=unit_id,
                measures=record.measures,
                dims=record.dims,
                attrs=record.attrs,
            )
        )


def _quarantine_all(
    connection: Connection,
    refs: References,
    envelope: streams.Envelope,
    reason: str,
    decoded: Decoded,
) -> None:
    for record in envelope.records:
        decoded.quarantine.append(
            _quarantined(connection, refs, envelope, record, rule="poison", reason=reason)
        )


def _quarantined(
    connection: Connection,
    refs: References,
    envelope: streams.Envelope,
    record: streams.StreamRecord,
    *,
    rule: str,
    reason: str,
    org_unit_field: bool = False,
) -> QuarantineRow:
    contract = refs.contract(connection, envelope.source_id, envelope.contract_version)
    unit_fields = contract.by_role(FieldRole.ORG_UNIT) if contract else ()
    return QuarantineRow(
        source_id=envelope.source_id,
        source_key=envelope.source_key,
        contract_version=envelope.contract_version,
        batch_id=batch_uuid(envelope.batch_id),
        record_index=record.index,
        rule=rule,
        reason=reason,
        field=unit_fields[0].name if org_unit_field and unit_fields else None,
        payload=record_payload(contract, record),
    )


def _rejected(rejection: streams.Rejection) -> QuarantineRow:
    return QuarantineRow(
        source_id=rejection.source_id,
        source_key=rejection.source_key,
        contract_version=rejection.contract_version,
        batch_id=batch_uuid(rejection.batch_id),
        record_index=rejection.index,
        rule=rejection.rule,
        reason=rejection.reason,
        field=rejection.field,
        payload=rejection.payload,
        raw=rejection.raw,
    )


def _poisoned_rejections(item: Parsed, reason: str) -> QuarantineRow:
    """A quarantine-stream entry whose rejections could not be inserted, kept whole as text.

    Keyed by the stream entry id like an undecodable entry; its records are in ``raw`` (the
    msgpack of its rejections in hex), so nothing is lost and nothing of it needs a parsed payload.
    """
    try:
        raw = streams.encode_rejections(item.rejections or ()).hex()
    except (TypeError, ValueError, OverflowError):
        raw = escaped_json(repr(item.rejections))
    return _whole_entry(item, "poison", f"rejections of {reason}", raw)


def _undecodable(item: Parsed) -> QuarantineRow:
    reason = f"stream entry {item.entry_id.decode()} did not decode: {item.error}"
    return _whole_entry(item, "undecodable", reason, item.raw.hex())


def _whole_entry(item: Parsed, rule: str, reason: str, raw: str) -> QuarantineRow:
    # Keyed by the stream entry id, so a second drain of the same entry adds nothing.
    return QuarantineRow(
        source_id=None,
        source_key=UNKNOWN_SOURCE,
        contract_version=None,
        batch_id=batch_uuid(f"{item.stream}:{item.entry_id.decode()}"),
        record_index=0,
        rule=rule,
        reason=reason[:1000],
        raw=raw,
    )
