"""Storage maintenance: create partitions ahead, and apply the retention of raw and minute data.

Run it from cron (``run_maintenance``), at least daily. Retention semantics:

- raw ``events`` follow each source's ``retention_days``: a row is expired once it is older
  than its source's retention. A whole day partition (or TimescaleDB chunk) is dropped once it
  is older than every source's retention; rows of sources with a shorter retention are deleted
  from the partitions that are kept.
- ``rollup_1m`` is kept ``settings.rollup_1m_retention_days``; ``rollup_1h`` and ``rollup_1d``
  are kept for ever. Retention never changes a rollup: aggregates outlive their raw events.
- today's and future partitions are never dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, text

from models.settings import Settings, StorageBackend
from models.storage import installed_backend, native, timescale

LOCK_TIMEOUT_MS = 5000
"""How long dropping a partition may wait for its parent's lock before it is deferred."""


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one maintenance run changed.

    ``created`` and ``dropped`` name partitions (or chunks); ``deferred`` names partitions
    that were due but whose lock was busy (the next run retries them); ``deleted_events``
    counts the expired rows deleted per source id.
    """

    backend: StorageBackend
    created: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    deferred: tuple[str, ...] = ()
    deleted_events: Mapping[int, int] = field(default_factory=dict)

    @property
    def deleted_total(self) -> int:
        return sum(self.deleted_events.values())


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    """Which partitions to drop and, per source, before which instant to delete rows."""

    drop: tuple[tuple[str, str], ...]
    delete_before: Mapping[int, dt.datetime]


def utc_day(now: dt.datetime) -> dt.date:
    if now.tzinfo is None:
        raise ValueError("maintenance needs a timezone-aware 'now'")
    return now.astimezone(dt.UTC).date()


def _day_end(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def expiry_cutoffs(now: dt.datetime, retention_days: Mapping[int, int]) -> dict[int, dt.datetime]:
    """Per source: rows older than this instant are past the source's retention."""
    return {source: now - dt.timedelta(days=days) for source, days in retention_days.items()}


def plan_native_retention(
    now: dt.datetime,
    retention_days: Mapping[int, int],
    partitions: Mapping[str, Sequence[tuple[str, dt.date]]],
    rollup_1m_retention_days: int,
) -> RetentionPlan:
    """Decide what native retention removes at ``now`` (pure: reads and changes nothing).

    Args:
        retention_days: ``sources.retention_days`` by source id.
        partitions: the existing day partitions by table, as (name, UTC day).
        rollup_1m_retention_days: how long minute rollups are kept.
    """
    today = utc_day(now)
    cutoffs = expiry_cutoffs(now, retention_days)
    drop: list[tuple[str, str]] = []
    # With no sources there is no retention to apply: keep everything rather than guess.
    table_cutoffs = {"rollup_1m": now - dt.timedelta(days=rollup_1m_retention_days)}
    if cutoffs:
        table_cutoffs["events"] = min(cutoffs.values())
    for table, cutoff in table_cutoffs.items():
        for name, day in partitions.get(table, ()):
            if day < today and _day_end(day) <= cutoff:
                drop.append((table, name))
    delete_before = {}
    if cutoffs:
        oldest_kept = min(cutoffs.values())
        delete_before = {s: c for s, c in cutoffs.items() if c > oldest_kept}
    return RetentionPlan(drop=tuple(drop), delete_before=delete_before)


def source_retention_days(connection: Connection) -> dict[int, int]:
    """``retention_days`` of every source, active or not (its raw data is still stored)."""
    rows = connection.execute(text("SELECT id, retention_days FROM sources")).all()
    return {int(source_id): int(days) for source_id, days in rows}


def delete_expired_events(connection: Connection, source_id: int, cutoff: dt.datetime) -> int:
    """Delete the events of ``source_id`` older than ``cutoff``; returns how many went."""
    deleted = connection.execute(
        text("DELETE FROM events WHERE source_id = :source_id AND ts < :cutoff"),
        {"source_id": source_id, "cutoff": cutoff},
    )
    return int(deleted.rowcount)


def _delete_expired(engine: Engine, delete_before: Mapping[int, dt.datetime]) -> dict[int, int]:
    deleted = {}
    for source_id, cutoff in sorted(delete_before.items()):
        # One short transaction per source: a long retention pass must not hold every lock.
        with engine.begin() as connection:
            count = delete_expired_events(connection, source_id, cutoff)
        if count:
            deleted[source_id] = count
    return deleted


def _maintain_native(engine: Engine, settings: Settings, now: dt.datetime) -> MaintenanceReport:
    today = utc_day(now)
    ahead = [today + dt.timedelta(days=n) for n in range(settings.partitions_ahead_days + 1)]
    with engine.begin() as connection:
        created = native.ensure_partitions(connection, ahead)
    with engine.connect() as connection:
        retention = source_retention_days(connection)
        partitions = {t: native.existing_partitions(connection, t) for t in ("events", "rollup_1m")}
    plan = plan_native_retention(now, retention, partitions, settings.rollup_1m_retention_days)
    dropped: list[str] = []
    deferred: list[str] = []
    for table, name in plan.drop:
        done = native.drop_partition(engine, table, name, LOCK_TIMEOUT_MS)
        (dropped if done else deferred).append(name)
    return MaintenanceReport(
        backend=StorageBackend.NATIVE,
        created=tuple(created),
        dropped=tuple(dropped),
        deferred=tuple(deferred),
        deleted_events=_delete_expired(engine, plan.delete_before),
    )


def _maintain_timescale(engine: Engine, settings: Settings, now: dt.datetime) -> MaintenanceReport:
    with engine.connect() as connection:
        cutoffs = expiry_cutoffs(now, source_retention_days(connection))
    dropped: list[str] = []
    delete_before: dict[int, dt.datetime] = {}
    if cutoffs:
        oldest_kept = min(cutoffs.values())
        # Chunks are cut at UTC midnight: dropping those wholly before the cutoff never
        # touches today's chunk, since every retention is at least one day.
        with engine.begin() as connection:
            dropped = timescale.drop_expired_event_chunks(connection, oldest_kept)
        delete_before = {s: c for s, c in cutoffs.items() if c > oldest_kept}
    with engine.begin() as connection:
        timescale.set_rollup_1m_retention(connection, settings.rollup_1m_retention_days)
    return MaintenanceReport(
        backend=StorageBackend.TIMESCALE,
        dropped=tuple(dropped),
        deleted_events=_delete_expired(engine, delete_before),
    )


def run_maintenance(engine: Engine, settings: Settings, now: dt.datetime) -> MaintenanceReport:
    """Create partitions ahead and apply retention, for whichever backend is installed.

    Idempotent: a second run at the same ``now`` creates, drops and deletes nothing.
    ``now`` must be timezone-aware; days are UTC days.
    """
    utc_day(now)
    with engine.connect() as connection:
        backend = installed_backend(connection)
    if backend is StorageBackend.TIMESCALE:
        return _maintain_timescale(engine, settings, now)
    return _maintain_native(engine, settings, now)
