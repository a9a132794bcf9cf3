"""Pulled sources (microbatch, scheduled): RQ jobs that fetch, validate and publish new records.

A pull takes the records newer than the source's watermark, validates them with the source's
current contract and publishes them to the same streams as the ingest API (accepted records to
the partitions, rejected ones to quarantine), then advances the watermark. A failed pull is
logged and leaves the watermark where it was, so the next run fetches the same records again;
the store deduplicates events, and a re-fetch of identical records reuses the batch id, so the
quarantine does not count a rejected record twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy.orm import Session

from ingest import drift, jobs, metrics
from ingest.api_batch import check_batch
from ingest.api_bodies import Batch
from ingest.bounds import EventWindow
from ingest.contracts import CompiledContract, compile_contract
from ingest.pull_fetch import PullError, fetch_http, fetch_sql
from ingest.runtime import Services
from ingest.streams import Backpressure, Envelope, publish, split_by_partition
from models.contracts import FieldRole
from models.enums import PullKind
from models.pulls import PullPlan, due_source_ids, pull_plan, record_pull

log = logging.getLogger(__name__)

PUBLISH_CHUNK = 1_000
"""Records per published batch: stream entries stay the size of an API request's."""
LOCK_TTL_S = 600
"""A pull holds its source's lock at most this long (a crashed pull frees it by expiry)."""
_LOCK_PREFIX = "northstar:pull:lock:"
_QUEUED_PREFIX = "northstar:pull:queued:"
_BATCH_NAMESPACE = uuid.UUID("6f1c7a52-3f0e-4d55-9c59-3a8f2b2b0c11")


@dataclass(frozen=True, slots=True)
class PullResult:
    """What one pull did; returned by the job (JSON) and logged."""

    source_id: int
    status: str
    """``pulled``, ``skipped`` (not pulled, busy, no contract or an expired partner
    agreement) or ``failed``."""
    fetched: int = 0
    accepted: int = 0
    rejected: int = 0
    watermark: str | None = None
    detail: str = ""


def format_watermark(at: dt.datetime) -> str:
    """Fixed-width ISO 8601 UTC, so that stored watermarks compare as strings."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: Any) -> dt.datetime | None:
    """A record's timestamp as the contract would read it, or None when it does not parse."""
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _batch_ids(source_id: int, records: Sequence[Any], chunks: int) -> list[str]:
    """Batch ids derived from the records: an identical re-fetch gets identical ids."""
    digest = hashlib.sha256(
        json.dumps(records, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()
    return [str(uuid.uuid5(_BATCH_NAMESPACE, f"{source_id}|{digest}|{n}")) for n in range(chunks)]


def _publish_chunk(
    services: Services, compiled: CompiledContract, batch_id: str, chunk: Sequence[Any]
) -> tuple[int, int]:
    """Validate and publish one chunk exactly as the API does a request; (accepted, rejected)."""
    settings = services.settings
    window = EventWindow.from_settings(settings)
    checked = check_batch(compiled, Batch(records=list(chunk), lax=False), batch_id, window)
    envelopes = {
        p: Envelope(
            batch_id,
            compiled.source_id,
            compiled.source_key,
            compiled.version,
            time.time(),
            records,
        )
        for p, records in split_by_partition(
            checked.records, compiled.source_id, settings.ingest_partitions
        ).items()
    }
    partitions = publish(
        services.redis, envelopes, checked.rejections, max_backlog=settings.ingest_max_backlog
    )
    jobs.trigger_drain(services, partitions, rejections=bool(checked.rejections))
    metrics.RECORDS_ACCEPTED.labels(compiled.source_key).inc(len(checked.records))
    for rule, n in Counter(e.rule for e in checked.errors).items():
        metrics.RECORDS_REJECTED.labels(compiled.source_key, rule).inc(n)
    drift.count_drift(
        services.redis,
        compiled.source_id,
        compiled.version,
        checked.drift,
        window_s=settings.drift_window_s,
    )
    return len(checked.records), len(checked.rejections)


def _publish_all(services: Services, plan: PullPlan, records: Sequence[Any]) -> tuple[int, int]:
    """Validate and publish ``records`` in chunks; returns (accepted, rejected).

    Raises:
        Backpressure: the streams are full; chunks already published stay (and deduplicate
            when the next pull fetches them again).
    """
    assert plan.contract is not None
    compiled = compile_contract(plan.source_id, plan.source_key, plan.contract)
    chunks = [records[i : i + PUBLISH_CHUNK] for i in range(0, len(records), PUBLISH_CHUNK)]
    accepted = rejected = 0
    for batch_id, chunk in zip(
        _batch_ids(plan.source_id, records, len(chunks)), chunks, strict=True
    ):
        a, r = _publish_chunk(services, compiled, batch_id, chunk)
        accepted, rejected = accepted + a, rejected + r
    return accepted, rejected


def _new_watermark(plan: PullPlan, records: Sequence[Any], now: dt.datetime) -> str | None:
    """The latest record time seen, never past ``now`` (a clock skewed into the future must
    not make the next pulls skip records)."""
    assert plan.contract is not None
    field = plan.contract.by_role(FieldRole.TIMESTAMP)[0].name
    times = [
        t for r in records if isinstance(r, dict) and (t := _parse_time(r.get(field))) is not None
    ]
    if not times:
        return None
    return format_watermark(min(max(times), now))


def fetch_records(services: Services, plan: PullPlan) -> list[Any]:
    """One fetch of ``plan``'s source from its watermark (raises PullError when it fails)."""
    if plan.kind is PullKind.HTTP:
        return fetch_http(plan.target, plan.watermark, max_bytes=services.settings.ingest_max_bytes)
    if not plan.query:
        raise PullError("an sql source needs a pull_query")
    return fetch_sql(plan.target, plan.query, plan.watermark)


def pull_with(services: Services, source_id: int, *, now: dt.datetime | None = None) -> PullResult:
    """Pull one source now (unless another pull of it is running). Never raises for a failed
    fetch or full streams: those are logged and retried on the next scheduled run."""
    services.redis.delete(f"{_QUEUED_PREFIX}{source_id}")
    lock = f"{_LOCK_PREFIX}{source_id}"
    if not services.redis.set(lock, "1", nx=True, ex=LOCK_TTL_S):
        return PullResult(source_id, "skipped", detail="another pull of this source is running")
    try:
        return _pull_locked(services, source_id, now or dt.datetime.now(dt.UTC))
    finally:
        services.redis.delete(lock)


def _pull_locked(services: Services, source_id: int, now: dt.datetime) -> PullResult:
    with Session(services.engine) as session:
        plan = pull_plan(session, source_id)
    if plan is None:
        return PullResult(source_id, "skipped", detail="not an active pulled source")
    if plan.agreement_expired(now):
        # Ingestion stops when the agreement does, as the ingest API refuses pushes (403).
        log.warning("pull of source %s refused: %s", plan.source_key, plan.agreement_refusal())
        return PullResult(source_id, "skipped", detail=plan.agreement_refusal())
    if plan.contract is None:
        log.error("pull of source %s skipped: it has no contract", plan.source_key)
        return PullResult(source_id, "skipped", detail="the source has no contract")
    try:
        records = fetch_records(services, plan)
        accepted, rejected = _publish_all(services, plan, records)
    except (PullError, Backpressure) as exc:
        log.warning("pull of source %s failed, retried next run: %s", plan.source_key, exc)
        return PullResult(source_id, "failed", watermark=plan.watermark, detail=str(exc))
    watermark = _new_watermark(plan, records, now)
    with Session(services.engine) as session, session.begin():
        record_pull(session, source_id, watermark=watermark, pulled_at=now)
    result = PullResult(
        source_id, "pulled", len(records), accepted, rejected, watermark or plan.watermark
    )
    log.info("pulled source %s: %s", plan.source_key, result)
    return result


def enqueue_due(services: Services, queue: Queue, *, now: dt.datetime | None = None) -> list[int]:
    """Enqueue a pull of every due source not already queued; returns their ids."""
    with Session(services.engine) as session:
        due = due_source_ids(session, now or dt.datetime.now(dt.UTC))
    queued = []
    for source_id in due:
        # One queued pull per source at a time, however long the workers lag behind.
        if services.redis.set(f"{_QUEUED_PREFIX}{source_id}", "1", nx=True, ex=LOCK_TTL_S):
            queue.enqueue(pull_source, source_id, job_timeout=LOCK_TTL_S)
            queued.append(source_id)
    return queued


def pull_source(source_id: int) -> dict[str, Any]:
    """RQ job: pull one source (see :func:`pull_with`)."""
    return asdict(pull_with(jobs.services(), source_id))


def pull_due_sources() -> list[int]:
    """RQ job (every minute from ``ingest.schedule``): enqueue the pulls that are due."""
    services = jobs.services()
    queue = Queue(jobs.QUEUE, connection=services.redis, serializer=JSONSerializer)
    return enqueue_due(services, queue)
