"""What a worker process did since its last summary: jobs, records, failures.

rq's per-job lines are off by default (ingest/logs.py); in their place each worker logs one
line at most every ``NORTHSTAR_WORKER_SUMMARY_S`` (and one when it stops). Jobs run in the
worker's own process (``SimpleWorker``), so the counters are plain process-local numbers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

DRAIN_COUNTS = ("records", "stored", "duplicates", "quarantined", "poisoned")
"""Fields of a drain's report that the summary adds up."""


@dataclass
class Activity:
    """Counters since ``since`` (a ``time.monotonic()`` reading)."""

    since: float = field(default_factory=time.monotonic)
    jobs: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DRAIN_COUNTS, 0))

    def add_drain(self, report: Mapping[str, object]) -> None:
        """Add a drain report's record counts (``DrainReport.as_dict()``)."""
        for name in DRAIN_COUNTS:
            value = report.get(name)
            if isinstance(value, int):
                self.counts[name] += value

    def summary(self, worker: str, now: float) -> str:
        """One line: ``worker W: 120 jobs (0 failed), 4,310 records (...) in 60 s``."""
        c = self.counts
        return (
            f"worker {worker}: {self.jobs:,} jobs ({self.failed:,} failed), "
            f"{c['records']:,} records ({c['stored']:,} stored, {c['duplicates']:,} duplicates, "
            f"{c['quarantined']:,} quarantined, {c['poisoned']:,} poisoned) "
            f"in {now - self.since:.0f} s"
        )


CURRENT = Activity()
"""This process's counters; the worker logs and resets them (``ingest.worker.Worker``)."""


def take(now: float) -> Activity:
    """The counters so far, replaced by fresh ones starting at ``now``."""
    global CURRENT
    taken, CURRENT = CURRENT, Activity(since=now)
    return taken
