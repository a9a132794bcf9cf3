"""A worker's console reads: no lines per job by default, one summary of what it did; JSON
lines when asked for."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from ingest import jobs, logs
from ingest.runtime import Services
from ingest.worker import QUEUES, make_worker
from integration.drain_support import catalog, publish_records, record, services
from integration.factories import Catalog
from models.settings import Settings

__all__ = ["catalog", "services"]  # fixtures


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``logs.configure`` rewires the root and rq loggers; put pytest's wiring back after."""
    names = ["", *logs.RQ_LOGGERS]
    saved = {
        n: (
            logging.getLogger(n).handlers[:],
            logging.getLogger(n).level,
            logging.getLogger(n).propagate,
        )
        for n in names
    }
    yield
    for n, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(n)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def _drain_three_requests(services: Services, level: str | None) -> None:
    partitions: set[int] = set()
    for request in range(3):
        published = publish_records(
            services.redis,
            services.settings,
            1,
            "orders",
            [
                record(i, f"r{request}-{i}", i * 1.5, "unit2", {"amount": 5.0, "qty": 1})
                for i in range(10)
            ],
        )
        partitions.update(published.partitions)
    jobs.trigger_drain(services, partitions)
    worker = make_worker(QUEUES, services.redis, summary_every_s=3600)
    worker.work(burst=True, logging_level=level or services.settings.job_log_level)


def test_by_default_a_worker_prints_a_summary_not_a_line_per_job(
    services: Services,
    catalog: Catalog,
    db: Engine,
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    logs.configure(services.settings, "worker")
    _drain_three_requests(services, None)

    err = capfd.readouterr().err.splitlines()
    per_job = [line for line in err if "Job OK" in line or "ingest.jobs.drain(" in line]
    assert per_job == []
    (summary,) = [line for line in err if "jobs (" in line]
    assert "INFO ingest.worker: worker " in summary
    assert "0 failed), 30 records (30 stored, 0 duplicates, 0 quarantined" in summary


def test_the_job_log_level_brings_rqs_lines_back(
    services: Services,
    catalog: Catalog,
    db: Engine,
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    chatty = services.settings.model_copy(update={"job_log_level": "INFO"})
    logs.configure(chatty, "worker")
    _drain_three_requests(services, "INFO")

    err = capfd.readouterr().err
    assert "ingest.jobs.drain(" in err
    assert "Job OK" in err


def test_json_lines_carry_time_level_logger_process_and_message(
    settings: Settings, capfd: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    logs.configure(settings.model_copy(update={"log_format": "json"}), "cron")
    logging.getLogger("ingest.test").warning("outage of %s", "orders")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("ingest.test").exception("failed")

    first, second = (json.loads(line) for line in capfd.readouterr().err.splitlines())
    assert first["level"] == "WARNING"
    assert first["logger"] == "ingest.test"
    assert first["process"] == "cron"
    assert first["message"] == "outage of orders"
    assert first["time"].endswith("+00:00")
    assert "RuntimeError: boom" in second["exception"]
