"""The ingest worker process: imports and connections ready before the first job, no fork per job.

rq's default ``Worker`` forks a work horse per job: the child re-imports nothing (fork shares
the preloaded modules) but must not reuse the parent's pooled PostgreSQL connections, so every
job would open new ones, and the fork itself costs a few milliseconds. A drain job is short and
frequent (one per partition whenever data arrives), so Northstar runs rq's ``SimpleWorker``:
jobs run in the worker process itself, on connections opened once. Figures in docs/pipeline.md.
A job that hangs is stopped by rq's timeout (SIGALRM) all the same.

Without ``--burst`` the process outlives Redis outages: :func:`work_until_stopped` waits for
Redis and starts a new worker when rq's loop gives up (docs/processes.md, "Redis outages").

The worker's command channel (rq's pub/sub thread, which receives "shutdown" and "stop job"
commands) is read by :class:`CommandThread`, which a stopping worker never waits a minute for:
see docs/pipeline.md, "Worker shutdown".
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

# Imported here, before the first job, so that no job pays for them.
import msgspec  # noqa: F401
import psycopg  # noqa: F401
import redis
from redis.client import PubSub
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

import models.schema  # noqa: F401
from ingest import activity, decode, drift, jobs, pipeline, reconnect  # noqa: F401
from ingest.outages import OutageLog
from models.settings import Settings

_log = logging.getLogger(__name__)

QUEUES = (jobs.INGEST_QUEUE, jobs.QUEUE)
"""Drains first: rq takes jobs from the queues in this order."""

COMMAND_POLL_S = 1.0
"""Longest wait of the command thread on its socket before it looks at its stop flag (rq: 60 s).

Stopping does not wait for it: the worker wakes the thread by publishing to its own channel."""

RECONNECT_S = 2.0
"""Pause of the command thread after losing Redis (redis-py resubscribes when it reconnects)."""

THREAD_JOIN_S = 5.0
"""Upper bound on waiting for the command thread at shutdown (Redis gone: poll + reconnect)."""

RESTART_QUICK_S = 10.0
"""A worker whose loop ended sooner than this after it started doubles the pause before the
next one (up to ``reconnect.MAX_PAUSE_S``)."""


class CommandThread(threading.Thread):
    """Reads a worker's command channel (rq's "shutdown", "kill-horse", "stop-job") until stopped.

    In place of redis-py's ``PubSub.run_in_thread``: rq ran it with a 60-second poll, and since
    redis-py 8.2 ``PubSubWorkerThread.stop()`` joins the thread without a timeout, so a worker
    whose thread sat in that poll took a minute to exit (docs/pipeline.md, "Worker shutdown").
    Here the stop flag is ours and :meth:`stop` wakes the read at once.
    """

    def __init__(self, worker: Worker, pubsub: PubSub) -> None:
        super().__init__(name=f"rq-commands-{worker.name}", daemon=True)
        self.worker = worker
        self.pubsub = pubsub
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.pubsub.get_message(ignore_subscribe_messages=True, timeout=COMMAND_POLL_S)
            except redis.ConnectionError as exc:
                _log.warning(
                    "worker %s: command channel lost (%s); retrying", self.worker.name, exc
                )
                self.stopping.wait(RECONNECT_S)

    def on_message(self, message: dict[str, Any]) -> None:
        """A command for the worker: handled by rq, unless the thread is stopping (the wake-up)."""
        if not self.stopping.is_set():
            self.worker.handle_payload(message)  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        """Set the stop flag, wake the read, and wait (bounded) for the thread to end."""
        self.stopping.set()
        # The wake-up: a message on the channel ends the thread's read at once. With Redis gone
        # the read ends within COMMAND_POLL_S all the same.
        with contextlib.suppress(redis.RedisError):
            self.worker.connection.publish(self.worker.pubsub_channel_name, b"")
        self.join(timeout=THREAD_JOIN_S)
        if not self.is_alive():
            self.pubsub.close()  # the server drops a closed connection's subscriptions


class Worker(SimpleWorker):
    """rq's ``SimpleWorker`` whose command thread is a :class:`CommandThread`."""

    # rq declares the attribute as ``None`` (it assigns redis-py's thread to it later).
    pubsub_thread: CommandThread | None  # type: ignore[assignment]

    def subscribe(self) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        thread = CommandThread(self, self.pubsub)
        self.pubsub.subscribe(**{self.pubsub_channel_name: thread.on_message})
        thread.start()
        self.pubsub_thread = thread

    def unsubscribe(self) -> None:
        thread, self.pubsub_thread = self.pubsub_thread, None
        if isinstance(thread, CommandThread):
            thread.stop()

    # What the worker did, as one line at most every ``summary_every_s`` (ingest/activity.py):
    # rq's own per-job lines are held back by default (ingest/logs.py).
    summary_every_s: float = 60.0

    def handle_job_success(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        super().handle_job_success(job, queue, *args, **kwargs)
        activity.CURRENT.jobs += 1
        # rq holds the return value on the job before saving it; reading the saved result
        # back would cost a Redis round trip per job.
        result = getattr(job, "_result", None)
        if isinstance(result, Mapping):
            activity.CURRENT.add_drain(result)
        self.summarise()

    def handle_job_failure(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        super().handle_job_failure(job, queue, *args, **kwargs)
        activity.CURRENT.jobs += 1
        activity.CURRENT.failed += 1
        self.summarise()

    def teardown(self) -> None:
        super().teardown()  # type: ignore[no-untyped-call]
        self.summarise(final=True)

    def summarise(self, *, final: bool = False) -> None:
        """Log the activity since the last summary, if it is time (or ``final``) and any."""
        now = time.monotonic()
        if final or now - activity.CURRENT.since >= self.summary_every_s:
            done = activity.take(now)
            if done.jobs:
                _log.info("%s", done.summary(self.name, now))


def make_worker(
    queues: Sequence[str],
    connection: Any,
    *,
    name: str | None = None,
    summary_every_s: float = 60.0,
) -> Worker:
    """A :class:`Worker` on ``queues`` (in priority order) with the JSON job serializer."""
    worker = Worker(list(queues), name=name, connection=connection, serializer=JSONSerializer)
    worker.summary_every_s = summary_every_s
    return worker


def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    queues: Sequence[str] = QUEUES,
    name: str | None = None,
    logging_level: str | None = None,
) -> bool:
    """Build the process's Services, then work the queues (until stopped, or empty: ``burst``).

    Without ``burst`` the process outlives Redis outages (:func:`work_until_stopped`).

    Args:
        logging_level: level of rq's per-job lines; ``NORTHSTAR_JOB_LOG_LEVEL`` when None.

    Returns:
        Whether any job was performed.
    """
    services = jobs.init_services(settings)
    with services.engine.connect():
        pass  # open the first pooled connection now, not in the first job
    jobs.resync_versions(services)  # a worker that died before copying them, restarted
    _log.info("worker on queues %s", ", ".join(queues))
    level = logging_level or settings.job_log_level
    summary_s = settings.worker_summary_s
    if burst:
        worker = make_worker(queues, services.redis, name=name, summary_every_s=summary_s)
        return bool(worker.work(burst=True, logging_level=level))
    with reconnect.quiet_repeats("rq.worker", __name__):
        return work_until_stopped(
            services.redis, queues, name=name, logging_level=level, summary_every_s=summary_s
        )


def work_until_stopped(
    connection: redis.Redis,
    queues: Sequence[str],
    *,
    name: str | None = None,
    logging_level: str = "WARNING",
    summary_every_s: float = 60.0,
) -> bool:
    """Run :func:`make_worker` workers one after the other until one is asked to stop.

    rq's work loop ends (or raises ``ConnectionError`` from its teardown) when Redis goes away
    outside its dequeue wait; then this waits for Redis (bounded backoff, each outage logged
    once) and starts a new worker. SIGTERM/SIGINT, or rq's "shutdown" command, end it.
    """
    outage = OutageLog(_log, "Redis (worker)")
    worked = False
    pause = reconnect.FIRST_PAUSE_S
    while True:
        started = time.monotonic()
        worker: Worker | None = None
        lost: BaseException = RuntimeError("the worker's loop ended on an error")
        try:
            # It talks to Redis already.
            worker = make_worker(queues, connection, name=name, summary_every_s=summary_every_s)
            worker.max_connection_wait_time = reconnect.MAX_PAUSE_S
            worked |= bool(worker.work(logging_level=logging_level))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            lost = exc
        if worker is not None:
            if worker._shutdown_requested_date is not None:  # SIGTERM/SIGINT or "shutdown"
                return worked
            worker.unsubscribe()  # its teardown may have failed before stopping the thread
        # A worker that failed at once again waits longer: no tight loop on a lasting fault.
        quick = time.monotonic() - started < RESTART_QUICK_S
        pause = min(pause * 2, reconnect.MAX_PAUSE_S) if quick else reconnect.FIRST_PAUSE_S
        with reconnect.stop_signals() as stop:
            if not reconnect.wait_for_redis(connection, outage, stop, lost, pause_s=pause):
                return worked
        if worker is not None:
            with contextlib.suppress(redis.RedisError):
                worker.register_death()  # type: ignore[no-untyped-call]  # frees its ``--name``
