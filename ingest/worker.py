"""The ingest worker process: imports and connections ready before the first job, no fork per job.

rq's default ``Worker`` forks a work horse per job: the child re-imports nothing (fork shares
the preloaded modules) but must not reuse the parent's pooled PostgreSQL connections, so every
job would open new ones, and the fork itself costs a few milliseconds. A drain job is short and
frequent (one per partition whenever data arrives), so Northstar runs rq's ``SimpleWorker``:
jobs run in the worker process itself, on connections opened once. Figures in docs/pipeline.md.
A job that hangs is stopped by rq's timeout (SIGALRM) all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

# Imported here, before the first job, so that no job pays for them.
import msgspec  # noqa: F401
import psycopg  # noqa: F401
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

import models.schema  # noqa: F401
from ingest import decode, drift, jobs, pipeline  # noqa: F401
from models.settings import Settings

QUEUES = (jobs.INGEST_QUEUE, jobs.QUEUE)
"""Drains first: rq takes jobs from the queues in this order."""


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
    worker = SimpleWorker(
        list(queues),
        name=name,
        connection=services.redis,
        serializer=JSONSerializer,
    )
    logging.getLogger(__name__).info("worker %s on queues %s", worker.name, ", ".join(queues))
    return bool(worker.work(burst=burst, logging_level=logging_level))
