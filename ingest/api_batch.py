"""Turning a parsed request body into stream entries: validate, split by partition, publish.

No HTTP here: :func:`accept_batch` is what the events and uploads endpoints share once the
caller is authorised, and it raises ``streams.Backpressure`` when nothing could be kept.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import redis

from ingest import drift, metrics, reject_budget
from ingest.api_bodies import Batch, Unparsed
from ingest.bounds import EventWindow
from ingest.contracts import CompiledContract, RecordError
from ingest.streams import (
    Backpressure,
    Envelope,
    Rejection,
    StreamRecord,
    publish,
    split_by_partition,
)
from models.safe_json import storable_payload
from models.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Checked:
    """A batch sorted into records to publish and records to quarantine."""

    records: list[StreamRecord]
    rejections: list[Rejection]
    errors: list[RecordError]
    drift: drift.DriftTally


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the API answers with 202, and the partitions that received an entry."""

    batch_id: str
    accepted: int
    errors: list[RecordError]
    partitions: list[int]
    """The partitions that received an entry (their drain jobs should be triggered)."""


def check_batch(
    compiled: CompiledContract, batch: Batch, batch_id: str, window: EventWindow
) -> Checked:
    """Validate every record; a rejected one becomes an error and a quarantine entry.

    ``window`` bounds the event times; the clock is read once, so a request is judged at
    one instant.
    """
    records: list[StreamRecord] = []
    rejections: list[Rejection] = []
    errors: list[RecordError] = []
    tally = drift.DriftTally()
    now_s = time.time()
    for index, item in enumerate(batch.records):
        if isinstance(item, Unparsed):
            result: StreamRecord | RecordError = RecordError(index, None, item.rule, item.reason)
        else:
            result = compiled.validate(item, index, lax=batch.lax, window=window, now_s=now_s)
            # A field name that cannot be stored (U+0000) would jam the drift evaluation.
            if isinstance(item, dict) and not _unstorable_text(result):
                mistyped = _mistyped(compiled, result)
                tally.add(compiled.unknown_fields(item), mistyped)
        if isinstance(result, StreamRecord):
            records.append(result)
            continue
        errors.append(result)
        rejections.append(_rejection(compiled, batch_id, item, result))
    return Checked(records, rejections, errors, tally)


def _unstorable_text(result: StreamRecord | RecordError) -> bool:
    return isinstance(result, RecordError) and result.rule == "text"


def _mistyped(compiled: CompiledContract, result: StreamRecord | RecordError) -> str | None:
    if isinstance(result, RecordError) and result.rule == "type" and result.field in compiled.known:
        return result.field
    return None


def _rejection(
    compiled: CompiledContract, batch_id: str, item: object, error: RecordError
) -> Rejection:
    # Whatever the record holds, the rejection must encode (msgpack) and insert (jsonb): what
    # cannot is kept as escaped JSON text instead of a parsed payload.
    payload, raw = storable_payload(
        None if isinstance(item, Unparsed) else item,
        item.raw if isinstance(item, Unparsed) else None,
    )
    return Rejection(
        batch_id=batch_id,
        source_id=compiled.source_id,
        source_key=compiled.source_key,
        contract_version=compiled.version,
        index=error.index,
        field=error.field,
        rule=error.rule,
        reason=error.reason,
        payload=payload,
        raw=raw,
    )


def accept_batch(
    client: redis.Redis,
    settings: Settings,
    compiled: CompiledContract,
    batch: Batch,
    key_id: int | None = None,
) -> Accepted:
    """Publish the batch's valid records and its rejections in one atomic step, then count.

    Args:
        key_id: the API key posting; its rejected records count against its hourly budget.

    Raises:
        streams.Backpressure: the backlog is full or Redis is unavailable; nothing was kept.
        reject_budget.RejectBudgetExceeded: the key's rejected records this hour would pass
            ``ingest_max_rejected_per_hour``; nothing was kept.
    """
    batch_id = str(uuid.uuid4())
    checked = check_batch(compiled, batch, batch_id, EventWindow.from_settings(settings))
    rejected = len(checked.rejections)
    charged = None
    if key_id is not None:
        try:
            limit = settings.ingest_max_rejected_per_hour
            charged = reject_budget.charge(client, key_id, rejected, limit)
        except redis.RedisError as exc:
            raise Backpressure(
                f"stream storage unavailable: {type(exc).__name__}",
                retry_after=10,
                unavailable=True,
            ) from exc
    try:
        return _publish(client, settings, compiled, checked, batch_id)
    except Backpressure:
        try:
            reject_budget.refund(client, charged, rejected)
        except redis.RedisError:
            log.warning("could not refund %d rejected records to %s", rejected, charged)
        raise


def _publish(
    client: redis.Redis,
    settings: Settings,
    compiled: CompiledContract,
    checked: Checked,
    batch_id: str,
) -> Accepted:
    accepted_at = time.time()
    envelopes = {
        partition: Envelope(
            batch_id, compiled.source_id, compiled.source_key, compiled.version, accepted_at, part
        )
        for partition, part in split_by_partition(
            checked.records, compiled.source_id, settings.ingest_partitions
        ).items()
    }
    partitions = publish(
        client, envelopes, checked.rejections, max_backlog=settings.ingest_max_backlog
    )
    _count(client, settings, compiled, checked)
    return Accepted(batch_id, len(checked.records), checked.errors, partitions)


def _count(
    client: redis.Redis, settings: Settings, compiled: CompiledContract, checked: Checked
) -> None:
    """Metrics and drift counters, after the batch is kept (a retried 429 is not counted)."""
    source = compiled.source_key
    if checked.records:
        metrics.RECORDS_ACCEPTED.labels(source).inc(len(checked.records))
    for rule, n in Counter(e.rule for e in checked.errors).items():
        metrics.RECORDS_REJECTED.labels(source, rule).inc(n)
    try:
        drift.count_drift(
            client,
            compiled.source_id,
            compiled.version,
            checked.drift,
            window_s=settings.drift_window_s,
        )
    except redis.RedisError as exc:
        # The records are kept; losing one request's drift counts only blurs a share.
        log.warning("drift counters not updated for %s: %s", source, exc)
