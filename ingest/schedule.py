"""The periodic jobs, as data, and the rq cron scheduler that enqueues them (``northstar cron``).

rq's cron scheduler counts intervals in seconds, so the sweep runs every 5 s without looping
inside a job. Each job may wait in the queue at most one interval (``ttl``): when the workers
are down the queue does not fill with stale copies of the same periodic job.

Why ``northstar cron`` rather than ``rq cron ingest.schedule``: rq's ``CronJob.enqueue`` always
uses the default (pickle) serializer, while Northstar's jobs travel as JSON (docs/contributing.md,
Jobs), and the Redis URL comes from ``REDIS_URL`` through the settings like every other process.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

import redis
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job
from rq.serializers import JSONSerializer

from ingest import reconnect
from ingest.outages import OutageLog
from models.settings import Settings

RESULT_TTL_S = 300
FAILURE_TTL_S = 7 * 86_400
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Periodic:
    """One periodic job: the function (a dotted path to a module-level function taking no
    arguments), how often it is enqueued, and how long one run may take."""

    name: str
    func: str
    every_s: int
    timeout_s: int
    why: str
    every_setting: str | None = None
    """A Settings field that overrides ``every_s`` (see :func:`configured`)."""


SCHEDULE: tuple[Periodic, ...] = (
    Periodic(
        "sweep",
        "ingest.jobs.sweep",
        every_s=5,
        timeout_s=60,
        why="drain partitions whose trigger was missed and reclaim stale pending entries",
    ),
    Periodic(
        "pull-due-sources",
        "ingest.pull.pull_due_sources",
        every_s=60,
        timeout_s=60,
        why="enqueue a pull of each microbatch/scheduled source whose interval has elapsed",
    ),
    Periodic(
        "evaluate-drift",
        "ingest.jobs.evaluate_drift",
        every_s=60,
        timeout_s=120,
        why="record schema drift of the last window (fields outside the contract)",
    ),
    Periodic(
        "quality-checks",
        "ingest.quality.jobs.run_checks",
        every_s=60,
        timeout_s=120,
        why="run the data-quality checks on every source; open, update and recover incidents",
    ),
    Periodic(
        "escalate-incidents",
        "ingest.quality.jobs.escalate_incidents",
        every_s=60,
        timeout_s=60,
        why="escalate unacknowledged incidents whose severity's delay has passed",
    ),
    Periodic(
        "requeue-notifications",
        "ingest.notify.jobs.requeue_due",
        every_s=15,
        timeout_s=60,
        why="enqueue pending e-mail and webhook deliveries that are due (first tries, retries)",
    ),
    Periodic(
        "evaluate-alerts",
        "ingest.alerts.jobs.evaluate_alerts",
        every_s=30,
        timeout_s=60,
        why="judge every active alert rule, announce firings, open reviews (interval: setting)",
        every_setting="alert_every_s",
    ),
    Periodic(
        "prune-quality-results",
        "ingest.quality.jobs.prune_results",
        every_s=3600,
        timeout_s=600,
        why="delete data-quality check results past NORTHSTAR_DQ_RESULTS_RETENTION_DAYS",
    ),
    Periodic(
        "refresh-rollups",
        "ingest.jobs.refresh_rollups",
        every_s=60,
        timeout_s=600,
        why="TimescaleDB: materialise closed buckets and queued writes, bump their versions",
    ),
    Periodic(
        "maintain",
        "ingest.jobs.maintain",
        every_s=3600,
        timeout_s=1800,
        why="create partitions ahead and apply retention",
    ),
)


def configured(
    settings: Settings, schedule: tuple[Periodic, ...] = SCHEDULE
) -> tuple[Periodic, ...]:
    """``schedule`` with each interval that names a setting taken from ``settings``."""
    return tuple(
        replace(p, every_s=int(getattr(settings, p.every_setting))) if p.every_setting else p
        for p in schedule
    )


def resolve(path: str) -> Callable[[], Any]:
    """The function a dotted path names (``module.function``)."""
    module_name, _, attribute = path.rpartition(".")
    function: Callable[[], Any] = getattr(importlib.import_module(module_name), attribute)
    if not callable(function):
        raise TypeError(f"{path} is not callable")
    return function


class _JsonCronJob(CronJob):
    """rq's CronJob, enqueuing with the JSON serializer the workers read."""

    def enqueue(self, connection: redis.Redis) -> Job:
        if self.func is None:
            raise ValueError(f"cron job {self.name} has no function")
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        with connection.pipeline() as pipeline:
            job = queue.enqueue(self.func, **self.job_options, pipeline=pipeline)
            assert job.enqueued_at is not None
            stamp = job.enqueued_at.timestamp()
            pipeline.zadd(self.job_history_key, {job.id: stamp})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=stamp)
            pipeline.execute()
        # Every 5 s for the sweep: detail, not news (docs/processes.md, Logs).
        logging.getLogger(__name__).debug("enqueued %s on %s", self.name, self.queue_name)
        return job


def cron_job(periodic: Periodic, queue_name: str) -> CronJob:
    """The rq cron job for one entry of the schedule."""
    return _JsonCronJob(
        queue_name=queue_name,
        func=resolve(periodic.func),
        interval=periodic.every_s,
        job_timeout=periodic.timeout_s,
        ttl=periodic.every_s,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        name=periodic.name,
    )


class Scheduler(CronScheduler):
    """rq's CronScheduler that remembers being asked to stop (SIGTERM/SIGINT), so that
    :func:`run_scheduler` tells a stop from a lost Redis when ``start()`` raises."""

    stop_requested = False

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        super()._request_stop(signum, frame)  # type: ignore[no-untyped-call]


def build_scheduler(
    connection: redis.Redis, queue_name: str, schedule: tuple[Periodic, ...] = SCHEDULE
) -> Scheduler:
    """A :class:`Scheduler` holding ``schedule``; ``start()`` runs it until SIGINT/SIGTERM."""
    scheduler = Scheduler(connection=connection, name="")
    for periodic in schedule:
        job = cron_job(periodic, queue_name)
        scheduler.get_jobs().append(job)
        scheduler.log.info(
            "registered %s every %s s (%s)", periodic.name, periodic.every_s, periodic.why
        )
    return scheduler


def run_scheduler(scheduler: Scheduler) -> None:
    """Run ``scheduler`` until SIGINT/SIGTERM, outliving Redis outages.

    rq's scheduler exits when Redis goes away (enqueue, heartbeat or its final
    ``register_death`` raise); this waits for Redis (bounded backoff, each outage logged once)
    and starts it again: it registers anew and enqueues what fell due meanwhile, once, since
    each job keeps its last enqueue time.
    """
    outage = OutageLog(_log, "Redis (cron)")
    while True:
        try:
            scheduler.start()  # type: ignore[no-untyped-call]
            return  # it returns only when asked to stop
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if scheduler.stop_requested:
                return
            with reconnect.stop_signals() as stop:
                if not reconnect.wait_for_redis(scheduler.connection, outage, stop, exc):
                    return
