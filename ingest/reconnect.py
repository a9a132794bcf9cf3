"""Long-running processes outlive a Redis outage: they wait for Redis, then carry on.

``northstar worker`` and ``northstar cron`` used to exit when Redis went away (rq's
``register_death`` and ``CronScheduler.enqueue`` raise ``ConnectionError``); under ``make demo``
one exiting process stops them all. Now the process waits (:func:`wait_for_redis`: a bounded
exponential backoff, SIGTERM/SIGINT still honoured at once) and starts its loop again.

Each outage is logged once when it starts and once when it ends (:class:`OutageLog`); rq's own
"could not connect to Redis" line, which it writes at every retry of its dequeue loop, and the
command thread's are let through once per outage (:class:`QuietRepeats`). See
docs/processes.md, "Redis outages".
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import redis

from ingest.outages import OutageLog

FIRST_PAUSE_S = 0.5
"""First wait before pinging Redis again; doubled after each failed ping."""
MAX_PAUSE_S = 5.0
"""Longest wait between two pings: the process resumes at most this long after Redis is back.
Also given to rq's worker as ``max_connection_wait_time`` (rq's default: 60 s)."""
REDIS_LINES = ("could not connect to Redis", "command channel lost")
"""rq's dequeue loop and :class:`ingest.worker.CommandThread` log these at every retry."""


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """While waiting: SIGTERM and SIGINT set the yielded event (instead of rq's handlers,
    which would talk to the Redis that is away); the previous handlers come back after."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def wait_for_redis(
    client: redis.Redis,
    outage: OutageLog,
    stop: threading.Event,
    cause: BaseException,
    *,
    pause_s: float = FIRST_PAUSE_S,
) -> bool:
    """Ping Redis with a growing pause (``pause_s`` first, at most :data:`MAX_PAUSE_S`) until
    it answers (True) or ``stop`` is set (False). ``cause`` is what the caller lost it to."""
    outage.failed(cause, "waiting for it to come back")
    pause = pause_s
    while not stop.wait(pause):
        try:
            client.ping()
        except redis.RedisError as exc:
            outage.failed(exc, "waiting for it to come back")
            pause = min(pause * 2, MAX_PAUSE_S)
            continue
        outage.recovered()
        return True
    return False


class QuietRepeats(logging.Filter):
    """Lets one "Redis is away" line of a retry loop through per outage.

    rq's worker logs an error at every retry of its dequeue loop, the command thread a warning
    every few seconds: a line per retry for as long as Redis is away. A matching record is
    dropped when the previous one came less than ``window_s`` ago (retries come at most
    :data:`MAX_PAUSE_S` apart, so a new outage is a record after a quiet window). A record
    carrying a Redis connection error's traceback (rq's "unhandled exception, quitting" when
    Redis left mid-job) is dropped too: the process's own :class:`OutageLog` reports it.
    """

    def __init__(self, window_s: float = 6 * MAX_PAUSE_S) -> None:
        super().__init__()
        self.window_s = window_s
        self.last: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], redis.ConnectionError):
            return False
        if not any(line in record.getMessage() for line in REDIS_LINES):
            return True
        now = time.monotonic()
        quiet = self.last is not None and now - self.last < self.window_s
        self.last = now
        return not quiet


@contextlib.contextmanager
def quiet_repeats(*logger_names: str) -> Iterator[QuietRepeats]:
    """Install one :class:`QuietRepeats` on these loggers for the block."""
    quiet = QuietRepeats()
    loggers = [logging.getLogger(name) for name in logger_names]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield quiet
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)
