"""The drain: read stream entries → decode → check references → write → commit → ack → bump.

Delivery is at-least-once from the stream, the effect in PostgreSQL exactly-once: events are
inserted ``ON CONFLICT DO NOTHING`` and rollups fold only the rows that were new, quarantine rows
are unique by ``(batch_id, record_index)``, so an entry delivered twice changes nothing the
second time. An entry is acknowledged (and deleted) only after its batch committed; a batch
that fails stays pending, is reclaimed after ``ingest_claim_idle_ms`` and, once delivered more
than ``ingest_max_deliveries`` times, is quarantined as ``poison``. See docs/pipeline.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import redis

from ingest import metrics, refresh, streams, versions
from ingest.decode import Decoded, Parsed, References, build_batch, event_times, parse_entry
from ingest.runtime import Services
from models.quarantine_store import QuarantineRow, insert_quarantined
from models.writes import prepare_storage, write_events_in

log = logging.getLogger(__name__)

BLOCK_MS: int | None = None
"""Reads do not block. Redis rounds a BLOCK timeout up to its cron tick (100 ms at the default
``hz 10``; measured), so a blocking read would idle every job's tail for 100 ms while other
partitions wait; an arrival after the job emptied the stream triggers a new job instead
(about 6 ms of rq overhead). See docs/pipeline.md."""
ERRORS_TTL_S = 86_400
RECORD_TARGET = 5_000
"""Records gathered per transaction before writing, when the stream holds that many."""
READS_PER_BATCH = 10
"""At most this many XREADGROUP calls gathered into one transaction."""


def errors_key(key: str) -> str:
    """Hash of the last error per pending entry id of stream ``key`` (for poison reasons)."""
    return f"northstar:drain:errors:{key}"


@dataclass
class DrainReport:
    """What one drain run did; ``more`` says the budget ran out with entries left."""

    stream: str
    entries: int = 0
    records: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    poisoned: int = 0
    reclaimed: int = 0
    failed: int = 0
    batches: int = 0
    seconds: float = 0.0
    more: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Drain:
    services: Services
    key: str
    consumer: str
    refs: References
    deadline: float
    report: DrainReport
    poison_ok: bool = True

    @property
    def client(self) -> redis.Redis:
        return self.services.redis

    def time_left(self) -> bool:
        return time.monotonic() < self.deadline

    def reclaim(self) -> bool:
        """Take over stale pending entries; quarantine those delivered too often.

        Returns False when the drain should stop: a batch failed, or the budget ran out.
        """
        settings = self.services.settings
        cursor = b"0-0"
        while self.time_left():
            cursor, entries = streams.claim_stale(
                self.client,
                self.key,
                self.consumer,
                min_idle_ms=settings.ingest_claim_idle_ms,
                count=settings.ingest_read_count,
                start=cursor,
            )
            live = [parse_entry(self.key, e) for e in entries if e.fields]
            # An entry deleted while pending comes back empty: it was committed already.
            streams.ack_and_delete(self.client, self.key, [e.id for e in entries if not e.fields])
            self.report.reclaimed += len(live)
            if live and not self.process(live, self._poison_of(live)):
                return False
            if cursor == b"0-0":
                return True
        self.report.more = True
        return False

    def _poison_of(self, entries: Sequence[Parsed]) -> dict[bytes, str]:
        if not self.poison_ok:
            return {}
        limit = self.services.settings.ingest_max_deliveries
        counts = streams.delivery_counts(self.client, self.key, [e.entry_id for e in entries])
        over = [e.entry_id for e in entries if counts.get(e.entry_id, 0) > limit]
        if not over:
            return {}
        errors = self.client.hmget(errors_key(self.key), over)
        return {
            entry_id: (
                f"stream entry {entry_id.decode()} delivered {counts[entry_id]} times "
                f"(limit {limit}); last error: "
                + (_text(error) if error else "none recorded (the worker died?)")
            )
            for entry_id, error in zip(over, errors, strict=True)
        }

    def read(self) -> None:
        """Read and write new entries until the stream is empty or the budget is spent."""
        count = self.services.settings.ingest_read_count
        while self.time_left():
            batch = self._read(count, BLOCK_MS)
            if not batch:
                return
            reads = 1
            # Gather more while the stream keeps giving full reads: one transaction per
            # thousands of records rather than per handful of entries.
            while (
                sum(p.records for p in batch) < RECORD_TARGET
                and reads < READS_PER_BATCH
                and len(batch) == reads * count
            ):
                batch += self._read(count, None)
                reads += 1
            if not self.process(batch, {}):
                return
        self.report.more = True

    def _read(self, count: int, block_ms: int | None) -> list[Parsed]:
        entries = streams.read_new(
            self.client, self.key, self.consumer, count=count, block_ms=block_ms
        )
        return [parse_entry(self.key, e) for e in entries]

    def process(self, entries: Sequence[Parsed], poison: Mapping[bytes, str]) -> bool:
        """Write one batch; on failure retry its entries one by one, so only the culprit stays
        pending. Returns False when something stayed pending (the caller stops)."""
        try:
            self._commit(entries, poison)
            return True
        except Exception as exc:  # any failure must leave the batch pending, never lose it
            if len(entries) == 1:
                self._failed(entries[0], exc)
                return False
            log.warning(
                "batch of %d entries on %s failed (%s); retrying one by one",
                len(entries),
                self.key,
                exc,
            )
        ok = True
        for entry in entries:
            try:
                self._commit([entry], poison)
            except Exception as exc:
                self._failed(entry, exc)
                ok = False
        return ok

    def _failed(self, entry: Parsed, exc: Exception) -> None:
        message = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
        entry_id = entry.entry_id.decode()
        log.error("stream entry %s on %s failed, left pending: %s", entry_id, self.key, message)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(errors_key(self.key), entry.entry_id, message)
            pipe.expire(errors_key(self.key), ERRORS_TTL_S)
            pipe.execute()
        self.report.failed += 1

    def _commit(self, entries: Sequence[Parsed], poison: Mapping[bytes, str]) -> None:
        started = time.monotonic()
        stored: dict[str, int] = {}
        oldest: dict[int, dt.datetime] = {}  # per metric whose rollups changed: its oldest event
        prepare_storage(self.services.engine, event_times(entries))
        with self.services.engine.begin() as connection:
            decoded = build_batch(connection, self.refs, entries, poison)
            for source_key, rows in decoded.rows_by_source():
                result = write_events_in(connection, rows)
                stored[source_key] = result.new_rows
                if result.changed_metric_ids:  # then some rows were new
                    first = min(row.ts for row in rows)
                    for metric_id in result.changed_metric_ids:
                        oldest[metric_id] = min(first, oldest.get(metric_id, first))
            inserted = insert_quarantined(connection, decoded.quarantine)
        committed = time.time()
        metrics.BATCH_WRITE_SECONDS.observe(time.monotonic() - started)
        ids = [e.entry_id for e in entries]
        streams.ack_and_delete(self.client, self.key, ids)
        if poison:
            self.client.hdel(errors_key(self.key), *poison)
        # Judged after the commit: an hour that ended while the batch was written is closed.
        hour = versions.current_hour(dt.datetime.now(dt.UTC))
        versions.bump(self.client, oldest.keys(), {m for m, ts in oldest.items() if ts < hour})
        if oldest:
            # TimescaleDB: buckets already materialised show the batch after the refresh job.
            refresh.trigger_refresh(self.services)
        self._observe(decoded, stored, inserted, committed)

    def _observe(
        self,
        decoded: Decoded,
        stored: Mapping[str, int],
        inserted: frozenset[tuple[uuid.UUID, int]],
        committed: float,
    ) -> None:
        report = self.report
        report.batches += 1
        report.entries += decoded.entries
        report.poisoned += decoded.poisoned
        report.records += decoded.records
        report.stored += sum(stored.values())
        report.duplicates += decoded.event_rows - sum(stored.values())
        for source_key, n in stored.items():
            metrics.RECORDS_STORED.labels(source=source_key).inc(n)
        for row in _new_rows(decoded.quarantine, inserted):
            report.quarantined += 1
            metrics.RECORDS_QUARANTINED.labels(source=row.source_key, rule=row.rule).inc()
        for accepted_at in decoded.accepted_at:
            metrics.EVENT_TO_COMMIT_SECONDS.observe(max(0.0, committed - accepted_at))


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode(errors="replace")


def _new_rows(
    rows: Sequence[QuarantineRow], inserted: frozenset[tuple[uuid.UUID, int]]
) -> list[QuarantineRow]:
    return [r for r in rows if (r.batch_id, r.record_index) in inserted]


def _run(drain: _Drain) -> DrainReport:
    started = time.monotonic()
    streams.ensure_group(drain.client, drain.key)
    if drain.reclaim():
        drain.read()
    drain.report.seconds = round(time.monotonic() - started, 4)
    return drain.report


def drain_partition(
    services: Services,
    partition: int,
    consumer: str,
    budget_s: float,
    *,
    refs: References | None = None,
) -> DrainReport:
    """Drain one partition's stream into PostgreSQL for at most about ``budget_s`` seconds.

    Args:
        consumer: this worker's name in the consumer group (stable for the process).
        refs: cached reference lookups to reuse across runs (a fresh cache if None).
    """
    key = streams.stream_key(partition)
    deadline = time.monotonic() + budget_s
    drain = _Drain(services, key, consumer, refs or References(), deadline, DrainReport(key))
    report = _run(drain)
    observe_backlog(services, [partition])
    return report


def drain_rejections(
    services: Services, consumer: str, budget_s: float, *, refs: References | None = None
) -> DrainReport:
    """Drain the quarantine stream (the edge's rejections) into the quarantine table."""
    key = streams.QUARANTINE_STREAM
    deadline = time.monotonic() + budget_s
    drain = _Drain(
        services, key, consumer, refs or References(), deadline, DrainReport(key), poison_ok=False
    )
    return _run(drain)


def observe_backlog(services: Services, partitions: Sequence[int]) -> dict[int, int]:
    """Set the backlog and pending gauges of ``partitions``; return the backlog."""
    backlog = streams.backlog(services.redis, partitions)
    keys = [streams.stream_key(p) for p in partitions]
    pending = streams.pending_counts(services.redis, keys)
    for partition, key in zip(partitions, keys, strict=True):
        metrics.STREAM_BACKLOG.labels(partition=str(partition)).set(backlog[partition])
        metrics.STREAM_PENDING.labels(partition=str(partition)).set(pending[key])
    return backlog
