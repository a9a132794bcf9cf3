"""RQ entry points of the ingest workers, and the trigger the API calls after publishing.

Queues: ``ingest`` holds the drain jobs (latency-critical, one per partition at a time);
``default`` holds everything else (sweep, drift evaluation, maintenance, pulls). Every job
travels with the JSON serializer and takes only primitives. Each worker process builds its
:class:`~ingest.runtime.Services` once, on first use (or before working: ``init_services``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import redis
import sqlalchemy.exc
from rq import Queue
from rq.serializers import JSONSerializer

from ingest import metrics, pipeline, refresh, streams, versions
from ingest.decode import References
from ingest.drift import evaluate_windows
from ingest.runtime import Services
from models.settings import Settings, get_settings
from models.storage.maintenance import run_maintenance

log = logging.getLogger(__name__)
QUEUE = "default"
INGEST_QUEUE = "ingest"
QUEUED_PREFIX = "northstar:drain:queued:"
"""``northstar:drain:queued:{partition}`` (and ``…:rejections``): a drain job is waiting."""
REJECTIONS = "rejections"
QUEUED_TTL_S = 60
"""A lost job (queue flushed, worker gone) blocks its partition's trigger at most this long;
the sweep covers the gap."""
RESULT_TTL_S = 60
FAILURE_TTL_S = 7 * 86_400
REJECTIONS_BUDGET_S = 2.0

log = logging.getLogger(__name__)


class _Process:
    """The process-wide handles of a worker, rebuilt if the process was forked since."""

    pid: int | None = None
    services: Services | None = None
    refs: References | None = None


def init_services(settings: Settings | None = None) -> Services:
    """This process's Services, built now if missing, forked since, or of other ``settings``
    (the worker calls it before its first job; tests, to run jobs with their settings)."""
    current = _Process.services
    if current is not None and _Process.pid == os.getpid():
        if settings is None or settings == current.settings:
            return current
        current.close()
    elif current is not None:
        # Inherited across a fork: never reuse (nor close) the parent's pooled connections.
        current.engine.dispose(close=False)
    _Process.services = Services(settings or get_settings())
    _Process.refs = References()
    _Process.pid = os.getpid()
    return _Process.services


def services() -> Services:
    """This process's Services, built on first use."""
    return init_services()


def _refs() -> References:
    init_services()
    assert _Process.refs is not None
    return _Process.refs


def consumer_name() -> str:
    """This process's name in the stream consumer group: unique per host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _flag(name: int | str) -> str:
    return f"{QUEUED_PREFIX}{name}"


def trigger_drain(
    services: Services, partitions: Iterable[int], *, rejections: bool = False
) -> list[int]:
    """Enqueue a drain of each partition that has none waiting; returns those enqueued.

    Called after every publish: a burst of requests enqueues one job per partition, not one
    per request. A job clears its flag when it starts, so data arriving during its run
    schedules the next one. With ``rejections``, the quarantine stream is drained too.
    """
    wanted: list[int | str] = sorted(set(partitions))
    if rejections:
        wanted.append(REJECTIONS)
    if not wanted:
        return []
    with services.redis.pipeline(transaction=False) as pipe:
        for name in wanted:
            pipe.set(_flag(name), b"1", nx=True, ex=QUEUED_TTL_S)
        won = [name for name, ok in zip(wanted, pipe.execute(), strict=True) if ok]
    if not won:
        return []
    queue = Queue(INGEST_QUEUE, connection=services.redis, serializer=JSONSerializer)
    timeout = int(services.settings.drain_budget_s) + 60
    queue.enqueue_many(
        [
            Queue.prepare_data(
                drain_rejections if name == REJECTIONS else drain,
                () if name == REJECTIONS else (name,),
                timeout=timeout,
                result_ttl=RESULT_TTL_S,
                failure_ttl=FAILURE_TTL_S,
            )
            for name in won
        ]
    )
    return [p for p in won if isinstance(p, int)]


def drain(partition: int) -> dict[str, Any]:
    """RQ job: drain one partition (and the edge's rejections, if any are waiting)."""
    current = services()
    current.redis.delete(_flag(partition))
    budget = current.settings.drain_budget_s
    report = pipeline.drain_partition(current, partition, consumer_name(), budget, refs=_refs())
    if report.reclaimed:
        # A worker died or failed here: it may have committed without copying the versions.
        resync_versions(current)
    if current.redis.xlen(streams.QUARANTINE_STREAM):
        pipeline.drain_rejections(current, consumer_name(), REJECTIONS_BUDGET_S, refs=_refs())
    if report.more:
        # Budget spent with entries left: hand over to a fresh job rather than hog the worker.
        trigger_drain(current, [partition])
    return report.as_dict()


def drain_rejections() -> dict[str, Any]:
    """RQ job: move the edge's rejections from the quarantine stream into the table."""
    current = services()
    current.redis.delete(_flag(REJECTIONS))
    budget = current.settings.drain_budget_s
    return pipeline.drain_rejections(current, consumer_name(), budget, refs=_refs()).as_dict()


def sweep() -> dict[str, Any]:
    """Cron job: drain partitions holding entries (a missed trigger, stale pending entries),
    and copy the durable data versions to Redis (a copy lost to a crash after a commit)."""
    current = services()
    partitions = list(range(current.settings.ingest_partitions))
    backlog = pipeline.observe_backlog(current, partitions)
    waiting = [p for p, n in backlog.items() if n > 0]
    rejections = bool(current.redis.xlen(streams.QUARANTINE_STREAM))
    enqueued = trigger_drain(current, waiting, rejections=rejections)
    overdue = report_overdue(current)
    moved = resync_versions(current)
    return {
        "backlog": {str(p): n for p, n in backlog.items()},
        "enqueued": enqueued,
        "overdue": overdue,
        "versions_repaired": moved,
    }


def report_overdue(current: Services) -> dict[str, int]:
    """Set the overdue gauge of every stream and log the entries still pending past the
    delivery limit (they should have been quarantined); returns the counts by stream."""
    limit = current.settings.ingest_max_deliveries
    keys = [streams.stream_key(p) for p in range(current.settings.ingest_partitions)]
    counts: dict[str, int] = {}
    for key in [*keys, streams.QUARANTINE_STREAM]:
        stuck = streams.overdue(current.redis, key, limit)
        metrics.STREAM_OVERDUE.labels(stream=key).set(len(stuck))
        counts[key] = len(stuck)
        if stuck:
            log.error(
                "%d entries of %s are pending past the delivery limit (%d), e.g. %s: "
                "they are neither written nor quarantined",
                len(stuck),
                key,
                limit,
                ", ".join(e.decode() for e in stuck[:5]),
            )
    return counts


def resync_versions(current: Services) -> int | None:
    """Copy the durable data versions to Redis (``ingest.versions.resync``); None when
    PostgreSQL or Redis failed (logged; the next sweep tries again)."""
    try:
        moved = versions.resync(current.redis, current.engine)
    except (sqlalchemy.exc.SQLAlchemyError, redis.RedisError) as exc:
        log.warning("data versions not copied to Redis: %s", exc)
        return None
    if moved:
        log.info("data versions: %d were behind PostgreSQL in Redis and were copied", moved)
    return moved


def evaluate_drift() -> int:
    """Cron job: record schema drift of the closed windows; returns the new drift events."""
    current = services()
    return evaluate_windows(
        current.redis,
        current.engine,
        window_s=current.settings.drift_window_s,
        threshold=current.settings.drift_threshold,
    )


def maintain() -> dict[str, Any]:
    """Cron job: create partitions ahead and apply retention."""
    current = services()
    return asdict(run_maintenance(current.engine, current.settings, dt.datetime.now(dt.UTC)))


def refresh_rollups() -> dict[str, Any]:
    """RQ job (ingest queue, and cron): materialise the TimescaleDB rollups the queued writes
    touched, then bump their data versions; nothing on the native backend."""
    return refresh.refresh_and_bump(services())
