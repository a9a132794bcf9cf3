"""A worker stops promptly: its command thread never holds up a burst's end or a SIGTERM.

rq runs each worker's command channel (pub/sub) in a thread that waited 60 s per poll; with
redis-py 8.2 stopping that thread waits for the poll, so every worker took a minute to exit
(docs/pipeline.md, "Worker shutdown"). These tests bound the wait generously (10 s): they catch
the hang, not a slow machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.command import send_shutdown_command
from rq.serializers import JSONSerializer
from sqlalchemy import Engine

from ingest import jobs
from ingest import worker as worker_module
from ingest.worker import CommandThread, make_worker
from models.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
BOUND_S = 10.0
RUNS = 8
"""Burst runs per test: the minute-long wait depended on a race the thread usually won."""


def _command_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if isinstance(t, CommandThread) and t.is_alive()]


def test_burst_workers_end_with_their_command_thread_stopped(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst run (in the main thread: rq installs signal handlers) ends within the bound,
    even with rq's own 60-second poll: stopping wakes the command thread, it does not wait."""
    monkeypatch.setattr(worker_module, "COMMAND_POLL_S", 60.0)
    queue = Queue("shutdown-test", connection=redis_client, serializer=JSONSerializer)
    before = set(_command_threads())
    for run in range(RUNS):
        queue.enqueue("time.sleep", 0.2)
        started = time.monotonic()
        worked = make_worker([queue.name], redis_client).work(burst=True, logging_level="WARNING")
        took = time.monotonic() - started
        assert worked  # it did the job
        assert took < BOUND_S, f"burst run {run} took {took:.1f} s to end"
        left = set(_command_threads()) - before
        assert not left, f"run {run} left its command thread running: {left}"
    assert queue.count == 0


@pytest.mark.parametrize("how", ["sigterm", "shutdown-command"])
def test_a_worker_process_stops_on_sigterm_or_command(
    db: Engine, redis_client: redis.Redis, settings: Settings, how: str
) -> None:
    """``northstar worker`` (the production process) exits within the bound on SIGTERM, and on
    rq's shutdown command, which reaches it through the command thread."""
    name = f"shutdown-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-c", "from cli.main import main; main()", "worker", "--name", name],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        channel = f"rq:pubsub:{name}"
        deadline = time.monotonic() + 60  # start-up imports; a hang-catching bound only
        while dict(redis_client.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < deadline, "the worker never subscribed to its channel"
            time.sleep(0.1)
        Queue(jobs.INGEST_QUEUE, connection=redis_client, serializer=JSONSerializer).enqueue(
            "time.sleep", 0.02
        )
        time.sleep(0.5)  # let it take the job and go back to waiting
        started = time.monotonic()
        if how == "sigterm":
            process.send_signal(signal.SIGTERM)
        else:
            send_shutdown_command(redis_client, name)
        output, _ = process.communicate(timeout=BOUND_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    took = time.monotonic() - started
    assert process.returncode == 0, output.decode()
    assert took < BOUND_S
    assert b"1 jobs (0 failed)" in output, output  # its summary: it did the job, then stopped
