"""One check cycle: every enabled check on every active source, results stored, incidents
opened, updated or recovered, all in one transaction. And the escalation and pruning steps.

Every function takes ``now``: the clock is the caller's (the cron jobs pass the wall clock,
tests move it).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest.quality import (
    completeness,
    freshness,
    reconciliation,
    referential_integrity,
    schema_drift,
    validity,
    volume_anomaly,
)
from ingest.quality.common import Evaluate
from ingest.quality.context import CheckContext, Thresholds, gather
from models.quality.escalation import EscalationPolicy
from models.quality.incidents import EscalationStep, IncidentChanges, apply_results, escalate_due
from models.quality.measures import active_sources
from models.quality.results import ResultRow, ensure_checks, prune_results, store_results
from models.quality.tables import CheckKey
from models.settings import Settings

CHECKS: tuple[tuple[CheckKey, Evaluate], ...] = (
    (freshness.KEY, freshness.evaluate),
    (completeness.KEY, completeness.evaluate),
    (validity.KEY, validity.evaluate),
    (volume_anomaly.KEY, volume_anomaly.evaluate),
    (referential_integrity.KEY, referential_integrity.evaluate),
    (schema_drift.KEY, schema_drift.evaluate),
    (reconciliation.KEY, reconciliation.evaluate),
)
_LOCK = 0x6E734451  # "nsDQ": one cycle at a time, across every worker


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What a cycle did; ``skipped`` when another cycle was running."""

    now: dt.datetime
    skipped: bool = False
    sources: int = 0
    states: dict[str, int] = field(default_factory=dict)
    """Results by state (``ok``, ``warning``, ``failing``)."""
    incidents: IncidentChanges = field(default_factory=IncidentChanges)
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds by step, in order: ``setup`` (lock, check catalogue, sources), ``gather`` (the
    facts read up front), each check's key (summed over the sources), ``store`` (results),
    ``incidents`` and ``commit``."""

    def as_dict(self) -> dict[str, Any]:
        changes = self.incidents
        return {
            "now": self.now.isoformat(),
            "skipped": self.skipped,
            "sources": self.sources,
            "states": dict(self.states),
            "opened": changes.opened,
            "recovered": changes.recovered,
            "relapsed": changes.relapsed,
            "resolved": changes.resolved,
            "duration_s": round(self.duration_s, 3),
            "timings_s": {step: round(s, 3) for step, s in self.timings.items()},
        }


def run_cycle(
    engine: Engine,
    settings: Settings,
    now: dt.datetime,
    *,
    thresholds: Thresholds | None = None,
    policy: EscalationPolicy | None = None,
) -> CycleReport:
    """Run every enabled check on every active source at ``now``; store and act on results."""
    started = time.perf_counter()
    limits = thresholds or Thresholds.from_settings(settings)
    ladder = policy or EscalationPolicy.from_settings(settings)
    timings: dict[str, float] = defaultdict(float)
    with Session(engine) as session, session.begin():
        connection = session.connection()
        locked = connection.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK})
        if not locked.scalar_one():
            return CycleReport(now, skipped=True)
        checks = ensure_checks(connection)
        enabled = [(key, run) for key, run in CHECKS if checks[key].enabled]
        sources = active_sources(connection)
        mark = _lap(timings, "setup", started)
        context = CheckContext(connection, now, limits, gather(connection, sources, limits, now))
        mark = _lap(timings, "gather", mark)
        rows: list[ResultRow] = []
        for source in sources:
            for key, run in enabled:
                row = run(context, source)
                mark = _lap(timings, key.value, mark)
                if row is not None:
                    rows.append(row)
        stored = store_results(connection, checks, rows, now)
        mark = _lap(timings, "store", mark)
        changes = apply_results(session, stored, checks, ladder, now)
        mark = _lap(timings, "incidents", mark)
    _lap(timings, "commit", mark)
    return CycleReport(
        now,
        sources=len(sources),
        states=dict(Counter(r.state.value for r in rows)),
        incidents=changes,
        duration_s=time.perf_counter() - started,
        timings=dict(timings),
    )


def _lap(timings: dict[str, float], step: str, since: float) -> float:
    """Add the time since ``since`` to ``step``; return the time now (the next lap's start)."""
    now = time.perf_counter()
    timings[step] += now - since
    return now


def escalate(
    engine: Engine, settings: Settings, now: dt.datetime, *, policy: EscalationPolicy | None = None
) -> list[EscalationStep]:
    """Escalate every unacknowledged incident whose delay has passed at ``now``."""
    with Session(engine) as session, session.begin():
        return escalate_due(session, policy or EscalationPolicy.from_settings(settings), now)


def prune(engine: Engine, settings: Settings, now: dt.datetime) -> int:
    """Delete check results older than ``dq_results_retention_days``; returns how many."""
    before = now - dt.timedelta(days=settings.dq_results_retention_days)
    with engine.begin() as connection:
        return prune_results(connection, before)
