"""TimescaleDB rollups: the refresh job's work, and the trigger the ingest commit calls.

Writes on the TimescaleDB backend queue their event range in ``rollup_refresh_pending``; the
job (``ingest.jobs.refresh_rollups``, on the ingest queue, and every minute from cron)
materialises the closed buckets with ``models.storage.timescale.refresh_pending`` and *then*
bumps the data versions of the metrics it folded in, so no cached answer from before the
refresh survives it. TimescaleDB's own job scheduler is not used for this. On the native
backend the rollups change in the write's transaction and the job does nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rq import Queue
from rq.serializers import JSONSerializer

from ingest import versions
from ingest.runtime import Services
from models.settings import StorageBackend
from models.storage import timescale

QUEUED_FLAG = "northstar:refresh:queued"
"""Set while a refresh job waits in the queue: a burst of commits enqueues one job."""
QUEUED_TTL_S = 60
JOB = "ingest.jobs.refresh_rollups"
QUEUE = "ingest"
TIMEOUT_S = 600
RESULT_TTL_S = 60
FAILURE_TTL_S = 7 * 86_400


def trigger_refresh(services: Services) -> bool:
    """Enqueue a refresh job unless one is already waiting; whether one was enqueued."""
    if services.storage_backend() is not StorageBackend.TIMESCALE:
        return False
    if not services.redis.set(QUEUED_FLAG, b"1", nx=True, ex=QUEUED_TTL_S):
        return False
    queue = Queue(QUEUE, connection=services.redis, serializer=JSONSerializer)
    queue.enqueue(JOB, job_timeout=TIMEOUT_S, result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S)
    return True


def refresh_and_bump(services: Services) -> dict[str, Any]:
    """Materialise what the queued writes changed, then bump those metrics' data versions."""
    services.redis.delete(QUEUED_FLAG)  # commits from now on schedule the next run
    if services.storage_backend() is not StorageBackend.TIMESCALE:
        return {"backend": StorageBackend.NATIVE.value, "metrics": 0}
    done = timescale.refresh_pending(services.engine, dt.datetime.now(dt.UTC))
    hour = versions.current_hour(dt.datetime.now(dt.UTC))
    closed = {m for m, ts in done.oldest.items() if ts < hour}
    # Raised in PostgreSQL first, like a drain's (a version raised only in Redis would sit
    # above the durable one, and the next batch's raise would not move the copy).
    with services.engine.begin() as connection:
        raised = versions.record(connection, done.oldest.keys(), closed)
    versions.publish(services.redis, raised)
    return {"backend": StorageBackend.TIMESCALE.value, "metrics": len(done.oldest)}
