"""What the checks measure, read for every source of a cycle in a handful of queries.

Volumes come from ``rollup_1m`` (the source's event-count metric), whose agreement with the
raw events is what reconciliation verifies; rejections from ``quarantine`` by receipt time;
drift from ``schema_drift``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.quality.windows import WINDOW, Window

UNKNOWN_REFERENCE_PREFIX = "unknown_"
"""Quarantine rules naming a reference that does not exist (``unknown_org_unit``, …)."""
_REJECTED_STATUSES = ("open", "replayed", "discarded")
"""Every status: a record replayed since was still rejected when it arrived."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """An active source as the checks see it."""

    id: int
    key: str
    name: str
    owner_unit_id: int
    steward_id: int | None
    freshness_sla_s: int
    expected_volume_per_15m: int | None
    pull_interval_s: int | None
    retention_days: int
    count_metric_id: int | None
    """The source's event-count metric (``measure`` NULL), None if it has none."""


@dataclass(frozen=True, slots=True)
class DriftEvent:
    contract_version: int
    field: str
    kind: str
    window_start: dt.datetime
    window_end: dt.datetime
    records: int
    occurrences: int
    share: float


_SOURCES = text(
    "SELECT s.id, s.key, s.name, s.owner_unit_id, s.steward_id, s.freshness_sla_s, "
    "s.expected_volume_per_15m, s.pull_interval_s, s.retention_days, "
    "(SELECT min(m.id) FROM metrics m WHERE m.source_id = s.id AND m.measure IS NULL) "
    "AS count_metric_id "
    "FROM sources s WHERE s.active ORDER BY s.id"
)


def active_sources(connection: Connection) -> list[SourceSpec]:
    """Every active source, by id."""
    return [SourceSpec(*row) for row in connection.execute(_SOURCES)]


# The newest day bucket of the count metric holds the newest event time (see
# models.queries.steward.quality: the same rule the badge uses).
_NEWEST = text(
    "SELECT m.source_id, (SELECT max(d.last_ts) FROM rollup_1d d WHERE d.metric_id = m.id "
    "  AND d.bucket = (SELECT max(d2.bucket) FROM rollup_1d d2 WHERE d2.metric_id = m.id)) "
    "FROM metrics m WHERE m.id = ANY(:metric_ids)"
)


def newest_events(
    connection: Connection, sources: Sequence[SourceSpec]
) -> dict[int, dt.datetime | None]:
    """The time of each source's newest stored event (None: none at all)."""
    found: dict[int, dt.datetime | None] = {s.id: None for s in sources}
    metric_ids = [s.count_metric_id for s in sources if s.count_metric_id is not None]
    if metric_ids:
        for source_id, newest in connection.execute(_NEWEST, {"metric_ids": metric_ids}):
            found[source_id] = newest
    return found


# Each window is its own LATERAL index probe. As a plain join the planner, not knowing the
# windows' times, scanned every partition of rollup_1m into a hash join (1.1 million rows for
# the demo's 30 days: 230 ms, growing with history; 2-3 ms this way, docs/benchmarks.md).
_COUNTS = text(
    "SELECT w.metric_id, w.start, x.n "
    "FROM unnest(CAST(:metric_ids AS integer[]), CAST(:starts AS timestamptz[])) "
    "  AS w(metric_id, start) "
    "CROSS JOIN LATERAL ("
    "  SELECT coalesce(sum(r.n), 0) AS n FROM rollup_1m r "
    "  WHERE r.metric_id = w.metric_id "
    "   AND r.bucket >= w.start AND r.bucket < w.start + CAST(:width AS interval)) x"
)


def window_counts(
    connection: Connection, wanted: Collection[tuple[int, dt.datetime]]
) -> dict[tuple[int, dt.datetime], int]:
    """Records per (count metric, window start) of 15 minutes, zero where there were none."""
    if not wanted:
        return {}
    pairs = sorted(set(wanted))
    rows = connection.execute(
        _COUNTS,
        {
            "metric_ids": [m for m, _ in pairs],
            "starts": [s for _, s in pairs],
            "width": WINDOW,
        },
    )
    return {(metric_id, start): int(n) for metric_id, start, n in rows}


# LATERAL per window, as for the counts: quarantine grows with every rejection.
_REJECTED = text(
    "SELECT w.source_id, x.rule, x.n "
    "FROM unnest(CAST(:source_ids AS integer[]), CAST(:starts AS timestamptz[])) "
    "  AS w(source_id, start) "
    "CROSS JOIN LATERAL ("
    "  SELECT q.rule, count(*) AS n FROM quarantine q "
    "  WHERE q.source_id = w.source_id AND q.status IN ('open', 'replayed', 'discarded') "
    "   AND q.received_at >= w.start AND q.received_at < w.start + CAST(:width AS interval) "
    "  GROUP BY q.rule) x"
)

_UNKNOWN = text(
    "SELECT w.source_id, x.reason, x.n "
    "FROM unnest(CAST(:source_ids AS integer[]), CAST(:starts AS timestamptz[])) "
    "  AS w(source_id, start) "
    "CROSS JOIN LATERAL ("
    "  SELECT q.reason, count(*) AS n FROM quarantine q "
    "  WHERE q.source_id = w.source_id AND q.status IN ('open', 'replayed', 'discarded') "
    "   AND q.rule LIKE :prefix "
    "   AND q.received_at >= w.start AND q.received_at < w.start + CAST(:width AS interval) "
    "  GROUP BY q.reason ORDER BY count(*) DESC, q.reason LIMIT :top) x "
    "ORDER BY w.source_id, x.n DESC, x.reason"
)


def _window_params(windows: dict[int, Window]) -> dict[str, object]:
    ids = sorted(windows)
    return {
        "source_ids": ids,
        "starts": [windows[i].start for i in ids],
        "width": WINDOW,
    }


def rejected_by_rule(
    connection: Connection, windows: dict[int, Window]
) -> dict[int, dict[str, int]]:
    """Records quarantined per source and rule, received in the source's window."""
    found: dict[int, dict[str, int]] = defaultdict(dict)
    if windows:
        for source_id, rule, n in connection.execute(_REJECTED, _window_params(windows)):
            found[source_id][rule] = int(n)
    return dict(found)


def unknown_references(
    connection: Connection, windows: dict[int, Window], top: int = 10
) -> dict[int, dict[str, int]]:
    """The most frequent unknown-reference reasons per source in its window (``top`` each)."""
    found: dict[int, dict[str, int]] = defaultdict(dict)
    if windows:
        params = {**_window_params(windows), "prefix": UNKNOWN_REFERENCE_PREFIX + "%", "top": top}
        for source_id, reason, n in connection.execute(_UNKNOWN, params):
            found[source_id][reason] = int(n)
    return dict(found)


_DRIFT = text(
    "SELECT d.source_id, d.contract_version, d.field, CAST(d.kind AS text), d.window_start, "
    "  d.window_end, d.records, d.occurrences, d.share "
    "FROM unnest(CAST(:source_ids AS integer[]), CAST(:starts AS timestamptz[])) "
    "  AS w(source_id, start) "
    "JOIN schema_drift d ON d.source_id = w.source_id "
    " AND d.window_start < w.start + CAST(:width AS interval) AND d.window_end > w.start "
    "ORDER BY d.source_id, d.share DESC, d.field "
    "LIMIT :limit"
)


def drift_events(
    connection: Connection, windows: dict[int, Window], limit: int = 1000
) -> dict[int, list[DriftEvent]]:
    """Schema drift events overlapping each source's window, largest share first."""
    found: dict[int, list[DriftEvent]] = defaultdict(list)
    if windows:
        params = {**_window_params(windows), "limit": limit}
        for source_id, *rest in connection.execute(_DRIFT, params):
            found[source_id].append(DriftEvent(*rest))
    return dict(found)
