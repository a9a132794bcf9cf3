"""Data-quality badges: a source's verdict from its latest check results, a KPI's from its sources.

A source's badge is the worst of its checks' latest results (``dq_results``, written by the
check cycle every minute), with freshness always judged live from its newest event against
``sources.freshness_sla_s`` (exact to the second rather than to the last cycle). Results older
than :data:`CHECKS_STALE_AFTER` add a warning that the checks are not running. A source with
no results at all (the checks never ran) is graded from the two facts read here: freshness
and the share of its records quarantined in the last hour. A KPI's badge is the worst badge
of the sources it reads (KPI <- metrics <- sources).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sqlalchemy import Connection, text

from models.quality.tables import CheckKey, DqState
from models.quality.windows import duration_text

REJECTED_WINDOW = dt.timedelta(hours=1)
REJECTED_WARNING_SHARE = 0.02
"""Rejected share (of stored + quarantined records in the window) that makes a warning."""
REJECTED_FAILING_SHARE = 0.10
"""Rejected share that makes a source failing."""
CHECKS_STALE_AFTER = dt.timedelta(minutes=10)
"""A source whose newest check result is older than this says the checks are not running."""


class QualityLevel(IntEnum):
    """Ordered so that the worst of several badges is their ``max``."""

    OK = 0
    WARNING = 1
    FAILING = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def of(cls, state: DqState) -> QualityLevel:
        return _LEVELS[state]


_LEVELS = {
    DqState.OK: QualityLevel.OK,
    DqState.WARNING: QualityLevel.WARNING,
    DqState.FAILING: QualityLevel.FAILING,
}


@dataclass(frozen=True, slots=True)
class CheckStatus:
    """A check's latest result on a source."""

    check: CheckKey
    state: DqState
    summary: str
    at: dt.datetime
    """When it was evaluated."""


@dataclass(frozen=True, slots=True)
class SourceFacts:
    """What the badge of one source is computed from."""

    source_id: int
    name: str
    freshness_sla_s: int
    newest_event: dt.datetime | None
    stored_last_hour: int
    rejected_last_hour: int
    checks: tuple[CheckStatus, ...] = ()
    """The latest result of each enabled check (empty: the checks never ran on it)."""


@dataclass(frozen=True, slots=True)
class Badge:
    """A verdict with the reasons behind it (empty when ok)."""

    level: QualityLevel
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "Data is fresh and complete."


OK_BADGE = Badge(QualityLevel.OK, ())

# The newest event's time from rollup_1d: one small unpartitioned table whose last_ts is the
# same value rollup_1m holds (each rollup keeps the newest event time of its bucket), and the
# newest day bucket is found by the (metric_id, bucket) primary key. The stored count of the
# window comes from rollup_1m, pruned to one or two day partitions. Every status is listed so
# that the (source_id, status, received_at) index answers the quarantine count: a record
# replayed since was still rejected when it arrived.
_FACTS = """
SELECT s.id, s.name, s.freshness_sla_s,
  (SELECT max(d.last_ts) FROM rollup_1d d
    WHERE d.metric_id = m.id AND d.bucket = (
      SELECT max(d2.bucket) FROM rollup_1d d2 WHERE d2.metric_id = m.id)) AS newest,
  (SELECT coalesce(sum(r.n), 0) FROM rollup_1m r
    WHERE r.metric_id = m.id AND r.bucket >= :since) AS stored,
  (SELECT count(*) FROM quarantine q
    WHERE q.source_id = s.id AND q.status IN ('open', 'replayed', 'discarded')
      AND q.received_at >= :since) AS rejected,
  (SELECT coalesce(jsonb_agg(jsonb_build_array(c.key, r.state, r.summary, r.at)
                             ORDER BY c.key), '[]')
    FROM dq_checks c
    CROSS JOIN LATERAL (
      SELECT r.state, r.summary, r.at FROM dq_results r
      WHERE r.source_id = s.id AND r.check_id = c.id
      ORDER BY r.at DESC, r.id DESC LIMIT 1) r
    WHERE c.enabled) AS checks
FROM sources s
LEFT JOIN metrics m ON m.source_id = s.id AND m.measure IS NULL
WHERE s.id = ANY(:ids)
ORDER BY s.id
LIMIT :limit
"""
_KNOWN_CHECKS = frozenset(k.value for k in CheckKey)


def _statuses(rows: Any) -> tuple[CheckStatus, ...]:
    return tuple(
        CheckStatus(CheckKey(key), DqState(state), summary, dt.datetime.fromisoformat(at))
        for key, state, summary, at in rows
        if key in _KNOWN_CHECKS
    )


def source_facts(
    connection: Connection, source_ids: Collection[int], *, now: dt.datetime
) -> dict[int, SourceFacts]:
    """Freshness, rejection and latest check results of each source in ``source_ids``
    (unknown ids are absent), in one query.

    The facts are about the source as a whole, not a unit: they say whether the pipeline
    delivers, and show no business value, so they are not filtered by scope.
    """
    if not source_ids:
        return {}
    rows = connection.execute(
        text(_FACTS),
        {"ids": sorted(source_ids), "since": now - REJECTED_WINDOW, "limit": len(source_ids)},
    )
    return {
        row.id: SourceFacts(
            source_id=row.id,
            name=row.name,
            freshness_sla_s=row.freshness_sla_s,
            newest_event=row.newest,
            stored_last_hour=int(row.stored),
            rejected_last_hour=int(row.rejected),
            checks=_statuses(row.checks),
        )
        for row in rows
    }


_age_text = duration_text


def _freshness(facts: SourceFacts, now: dt.datetime) -> Badge:
    if facts.newest_event is None:
        return Badge(QualityLevel.FAILING, (f"{facts.name}: no events received yet",))
    age = (now - facts.newest_event).total_seconds()
    if age > facts.freshness_sla_s:
        reason = (
            f"{facts.name}: newest event is {_age_text(age)} old "
            f"(freshness SLA {_age_text(facts.freshness_sla_s)})"
        )
        return Badge(QualityLevel.FAILING, (reason,))
    return OK_BADGE


def _rejected(facts: SourceFacts) -> Badge:
    total = facts.stored_last_hour + facts.rejected_last_hour
    if not facts.rejected_last_hour or not total:
        return OK_BADGE
    share = facts.rejected_last_hour / total
    if share < REJECTED_WARNING_SHARE:
        return OK_BADGE
    level = QualityLevel.FAILING if share >= REJECTED_FAILING_SHARE else QualityLevel.WARNING
    reason = (
        f"{facts.name}: {share:.1%} of records rejected in the last hour "
        f"({facts.rejected_last_hour} of {total})"
    )
    return Badge(level, (reason,))


def worst(badges: Iterable[Badge]) -> Badge:
    """One badge for several: the worst level, with the reasons of every non-ok badge."""
    found = list(badges)
    level = max((b.level for b in found), default=QualityLevel.OK)
    reasons = tuple(reason for b in found for reason in b.reasons)
    return Badge(level, reasons)


def _stored(facts: SourceFacts, now: dt.datetime) -> list[Badge]:
    badges = [
        Badge(QualityLevel.of(c.state), (f"{facts.name}: {c.summary}",))
        for c in facts.checks
        # Freshness is judged live instead, from the newest event.
        if c.state is not DqState.OK and c.check is not CheckKey.FRESHNESS
    ]
    last_run = max(c.at for c in facts.checks)
    if now - last_run > CHECKS_STALE_AFTER:
        reason = (
            f"{facts.name}: data-quality checks have not run for "
            f"{_age_text((now - last_run).total_seconds())}"
        )
        badges.append(Badge(QualityLevel.WARNING, (reason,)))
    return badges


def grade_source(facts: SourceFacts, now: dt.datetime) -> Badge:
    """The badge of one source: live freshness and its checks' latest results (before the
    checks ever ran: freshness and the rejected share of the last hour)."""
    if not facts.checks:
        return worst([_freshness(facts, now), _rejected(facts)])
    return worst([_freshness(facts, now), *_stored(facts, now)])


def kpi_badge(
    source_ids: Collection[int], facts: Mapping[int, SourceFacts], now: dt.datetime
) -> Badge:
    """The worst badge of the sources a KPI reads (a source without facts counts as failing)."""
    badges = [
        grade_source(facts[s], now)
        if s in facts
        else Badge(QualityLevel.FAILING, ("a source of this KPI is unknown",))
        for s in sorted(source_ids)
    ]
    return worst(badges)


def source_badges(
    connection: Connection, source_ids: Collection[int], now: dt.datetime
) -> dict[int, Badge]:
    """The badge of each source in ``source_ids`` (unknown ids are absent), in one query."""
    return {
        source_id: grade_source(facts, now)
        for source_id, facts in source_facts(connection, source_ids, now=now).items()
    }


def kpi_badges(
    connection: Connection, kpi_sources: Mapping[str, Collection[int]], now: dt.datetime
) -> dict[str, Badge]:
    """The badge of each KPI, given the sources behind it (``KpiDefinition.source_ids``, or
    ``models.queries.steward.lineage.sources_by_kpi``): one query for all of them."""
    wanted = {s for ids in kpi_sources.values() for s in ids}
    facts = source_facts(connection, wanted, now=now)
    return {key: kpi_badge(ids, facts, now) for key, ids in kpi_sources.items()}
