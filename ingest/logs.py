"""Process logs: one handler on stderr, text or JSON lines, rq's per-job chatter held back.

Every long-running process (``northstar worker``, ``cron``, ``simulate``; the web's own
messages) calls :func:`configure` once at start. Levels and form come from the settings
(docs/processes.md, "Logs"): ``NORTHSTAR_LOG_LEVEL`` for Northstar's messages,
``NORTHSTAR_JOB_LOG_LEVEL`` for rq's lines about each job and each scheduled enqueue (WARNING by
default: a worker draining several batches a second printed four lines per job), and
``NORTHSTAR_LOG_FORMAT=json`` for one JSON object per line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from models.settings import Settings

RQ_LOGGERS = ("rq.worker", "rq.job", "rq.queue", "rq.scheduler", "rq.cron", "rq.cron_scheduler")
"""rq's loggers: their INFO lines describe single jobs and enqueues."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``process``,
    ``message``, and ``exception`` when there is one."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "process": self.process,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(settings: Settings, process: str) -> logging.Formatter:
    """The formatter the settings ask for."""
    if settings.log_format == "json":
        return JsonFormatter(process)
    return logging.Formatter(TEXT_FORMAT)


def configure(settings: Settings, process: str) -> None:
    """Route every log record of this process to one stderr handler, at the configured levels.

    Args:
        settings: the process's settings (levels and format).
        process: what this process is (``worker``, ``cron``, ...), carried by JSON lines.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings, process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in RQ_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()  # rq adds its own colourised handlers when it finds none
        logger.propagate = True
        logger.setLevel(settings.job_log_level)
