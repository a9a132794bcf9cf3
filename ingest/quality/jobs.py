"""RQ entry points of the data-quality jobs (see ``ingest.schedule``), on the wall clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingest.jobs import services
from ingest.quality import runner


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_checks() -> dict[str, Any]:
    """Cron job: one check cycle over every active source."""
    current = services()
    return runner.run_cycle(current.engine, current.settings, _now()).as_dict()


def escalate_incidents() -> list[dict[str, Any]]:
    """Cron job: escalate the unacknowledged incidents that are due."""
    current = services()
    steps = runner.escalate(current.engine, current.settings, _now())
    return [
        {"incident": s.incident_id, "level": int(s.level), "notified": len(s.recipients)}
        for s in steps
    ]


def prune_results() -> int:
    """Cron job: delete check results past their retention."""
    current = services()
    return runner.prune(current.engine, current.settings, _now())
