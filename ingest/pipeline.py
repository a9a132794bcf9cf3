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
from sqlalchemy import Connection

from ingest import metrics, outages, refresh, streams, versions
from ingest.bounds import EventWindow
from ingest.decode import Decoded, Parsed, References, build_batch, event_times, parse_entry
from ingest.isolate import error_text, is_data_error, unwritable_records
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
_WRITES = outages.OutageLog(log, "PostgreSQL or Redis (drain)")
"""This process's drain writes: an outage is logged when it starts and when it ends."""
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
    deferred: int = 0
    """Entries left pending because PostgreSQL or Redis failed (delivery not counted)."""
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

    @property
    def window(self) -> EventWindow:
        return EventWindow.from_settings(self.services.settings)

    def process(self, entries: Sequence[Parsed], poison: Mapping[bytes, str]) -> bool:
        """Write one batch; on failure retry its entries one by one, so only the culprit stays
        pending. Returns False when something stayed pending (the caller stops)."""
        try:
            self._commit(entries, poison)
            _WRITES.recovered()
            return True
        except Exception as exc:  # any failure must leave the batch pending, never lose it
            if outages.caused_by_environment(exc):
                self._environment_failed(entries, exc)
                return False
            if len(entries) == 1:
                return self._isolate(entries[0], poison, exc)
            log.warning(
                "batch of %d entries on %s failed (%s); retrying one by one",
                len(entries),
                self.key,
                exc,
            )
        ok = True
        for n, entry in enumerate(entries):
            try:
                self._commit([entry], poison)
            except Exception as exc:
                if outages.caused_by_environment(exc):
                    self._environment_failed(entries[n:], exc)
                    return False
                ok = self._isolate(entry, poison, exc) and ok
        return ok

    def _isolate(self, entry: Parsed, poison: Mapping[bytes, str], exc: Exception) -> bool:
        """After ``entry`` failed on its own: when its data is at fault, quarantine the records
        that cannot be written (rule ``unwritable``) and store their siblings; otherwise leave
        it pending. Returns whether the entry was committed."""
        if entry.envelope is None or entry.entry_id in poison or not is_data_error(exc):
            self._failed(entry, exc)
            return False
        try:
            failing = unwritable_records(self.services, self.refs, entry, self.window)
            if not failing:  # no record fails alone: the entry stays pending (then poison)
                self._failed(entry, exc)
                return False
            log.warning(
                "stream entry %s on %s: %d record(s) cannot be written (%s); quarantining them",
                entry.entry_id.decode(),
                self.key,
                len(failing),
                next(iter(failing.values())),
            )
            self._commit([entry], poison, {entry.entry_id: failing})
            return True
        except Exception as again:
            if outages.caused_by_environment(again):
                self._environment_failed([entry], again)
            else:
                self._failed(entry, again)
            return False

    def _environment_failed(self, entries: Sequence[Parsed], exc: Exception) -> None:
        """PostgreSQL or Redis failed, not the batch: give the deliveries back and stop.

        The entries stay pending and are reclaimed ``ingest_claim_idle_ms`` later (by a later
        drain: the sweep triggers one every few seconds) with the delivery count they had, so
        an outage of any length never makes them poison. Not recorded as their last error.
        """
        ids = [e.entry_id for e in entries]
        try:
            streams.forgive_deliveries(self.client, self.key, self.consumer, ids)
        except redis.RedisError as lost:  # Redis is down too: the count stays one higher
            log.warning("could not give back the delivery of %d entries: %s", len(ids), lost)
        self.report.deferred += len(ids)
        _WRITES.failed(exc, f"stream entries stay pending; drains retry (first on {self.key})")

    def _failed(self, entry: Parsed, exc: Exception) -> None:
        message = error_text(exc)
        entry_id = entry.entry_id.decode()
        log.error("stream entry %s on %s failed, left pending: %s", entry_id, self.key, message)
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(errors_key(self.key), entry.entry_id, message)
            pipe.expire(errors_key(self.key), ERRORS_TTL_S)
            pipe.execute()
        self.report.failed += 1

    def _commit(
        self,
        entries: Sequence[Parsed],
        poison: Mapping[bytes, str],
        unwritable: Mapping[bytes, Mapping[int, str]] | None = None,
    ) -> None:
        started = time.monotonic()
        stored: dict[str, int] = {}
        oldest: dict[int, dt.datetime] = {}  # per metric whose rollups changed: its oldest event
        window = self.window
        days = window.days()
        # Never for poisoned entries or records outside the window: they are quarantined.
        times = event_times(entries, poison, window)
        prepare_storage(self.services.engine, times, allowed_days=days)
        with self.services.engine.begin() as connection:
            decoded = build_batch(connection, self.refs, entries, poison, window, unwritable)
            for source_key, rows in decoded.rows_by_source():
                result = write_events_in(connection, rows, allowed_days=days)
                stored[source_key] = result.new_rows
                if result.changed_metric_ids:  # then some rows were new
                    first = min(row.ts for row in rows)
                    for metric_id in result.changed_metric_ids:
                        oldest[metric_id] = min(first, oldest.get(metric_id, first))
            inserted = insert_quarantined(connection, decoded.quarantine)
            raised = _record_versions(connection, oldest)
        committed = time.time()
        metrics.BATCH_WRITE_SECONDS.observe(time.monotonic() - started)
        ids = [e.entry_id for e in entries]
        streams.ack_and_delete(self.client, self.key, ids)
        if poison:
            self.client.hdel(errors_key(self.key), *poison)
        versions.publish(self.client, raised)  # lost to a crash: the next resync copies it
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


def _record_versions(connection: Connection, oldest: Mapping[int, dt.datetime]) -> dict[str, int]:
    """Raise the data versions of the changed metrics in the write transaction (its last
    statement). Judged at the end of the transaction: an hour that ends between here and the
    commit is still read as open for ``versions.CLOSED_MARGIN`` after it ended."""
    hour = versions.current_hour(dt.datetime.now(dt.UTC))
    return versions.record(connection, oldest.keys(), {m for m, ts in oldest.items() if ts < hour})


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
    # Rejections past the delivery limit are kept whole as text (``decode``): nothing of the
    # quarantine stream stays pending for ever.
    drain = _Drain(services, key, consumer, refs or References(), deadline, DrainReport(key))
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
