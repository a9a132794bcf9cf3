"""The ingest worker process: imports and connections ready before the first job, no fork per job.

rq's default ``Worker`` forks a work horse per job: the child re-imports nothing (fork shares
the preloaded modules) but must not reuse the parent's pooled PostgreSQL connections, so every
job would open new ones, and the fork itself costs a few milliseconds. A drain job is short and
frequent (one per partition whenever data arrives), so Northstar runs rq's ``SimpleWorker``:
jobs run in the worker process itself, on connections opened once. Figures in docs/pipeline.md.
A job that hangs is stopped by rq's timeout (SIGALRM) all the same.

The worker's command channel (rq's pub/sub thread, which receives "shutdown" and "stop job"
commands) is read by :class:`CommandThread`, which a stopping worker never waits a minute for:
see docs/pipeline.md, "Worker shutdown".
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

# Imported here, before the first job, so that no job pays for them.
import msgspec  # noqa: F401
import psycopg  # noqa: F401
import redis
from redis.client import PubSub
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

import models.schema  # noqa: F401
from ingest import decode, drift, jobs, pipeline  # noqa: F401
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


def make_worker(queues: Sequence[str], connection: Any, *, name: str | None = None) -> Worker:
    """A :class:`Worker` on ``queues`` (in priority order) with the JSON job serializer."""
    return Worker(list(queues), name=name, connection=connection, serializer=JSONSerializer)


def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    queues: Sequence[str] = QUEUES,
    name: str | None = None,
    logging_level: str = "INFO",
) -> bool:
    """Build the process's Services, then work the queues (until stopped, or empty: ``burst``).

    Returns:
        Whether any job was performed.
    """
    services = jobs.init_services(settings)
    with services.engine.connect():
        pass  # open the first pooled connection now, not in the first job
    jobs.resync_versions(services)  # a worker that died before copying them, restarted
    worker = make_worker(queues, services.redis, name=name)
    logging.getLogger(__name__).info("worker %s on queues %s", worker.name, ", ".join(queues))
    return bool(worker.work(burst=burst, logging_level=logging_level))
