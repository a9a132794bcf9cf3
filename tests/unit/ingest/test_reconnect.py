"""An outage is logged once when it starts and once when it ends, not at every retry."""

from __future__ import annotations

import logging
import threading

import pytest
import redis

from ingest import reconnect
from ingest.outages import OutageLog


def _record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("rq.worker", logging.ERROR, __file__, 1, message, (), exc_info)


def test_an_outage_is_logged_when_it_starts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.outage")
    outage = OutageLog(logger, "Redis (test)")
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        for _ in range(5):
            outage.failed(redis.ConnectionError("refused"), "waiting")
        outage.recovered()
        outage.recovered()  # nothing to report twice
        outage.failed(redis.ConnectionError("refused again"), "waiting")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("Redis (test) unavailable (ConnectionError: refused)")
    assert "is back after" in lines[1]
    assert "(5 failed attempts)" in lines[1]
    assert "refused again" in lines[2]


def test_retry_lines_pass_once_per_outage() -> None:
    quiet = reconnect.QuietRepeats(window_s=60.0)
    retry = "Worker w: could not connect to Redis instance: refused retrying in 1 seconds..."
    assert quiet.filter(_record(retry))
    assert not quiet.filter(_record(retry))
    assert not quiet.filter(_record("worker w: command channel lost (refused); retrying"))
    assert quiet.filter(_record("Worker w: default: ingest.jobs.sweep()"))  # others pass
    quiet.last = -1e9  # a quiet window later: a new outage
    assert quiet.filter(_record(retry))
    traceback = _record("found an unhandled exception, quitting...", redis.ConnectionError("x"))
    assert not quiet.filter(traceback)  # the process's own outage line reports it
    assert quiet.filter(_record("found an unhandled exception", ValueError("a bug")))


def test_waiting_ends_at_once_on_a_stop_request() -> None:
    client = redis.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens there
    stop = threading.Event()
    stop.set()
    outage = OutageLog(logging.getLogger("test.outage"), "Redis (test)")
    cause = redis.ConnectionError("refused")
    assert not reconnect.wait_for_redis(client, outage, stop, cause, pause_s=30.0)
