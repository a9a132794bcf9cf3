"""Data-health reads: sources x checks with their latest state, a source's recent results, and
its volume against the expected band (the data-health and source pages).

Everything here is about pipelines, not business values, but still scoped: a principal sees
the sources whose owner unit lies in their scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.permissions import AccessDenied, Permission, Principal
from models.quality.stats import baseline
from models.quality.tables import CheckKey
from models.quality.windows import WEEK, WINDOW, Window, floor_to
from models.queries.common import IN_SCOPE, scope_params
from models.queries.steward.incidents import RESULT_COLUMNS, ResultView, result_view
from models.settings import Settings

NO_SOURCE = "no such source in your scope"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A source and the latest result of each of its checks (absent: never evaluated)."""

    source_id: int
    key: str
    name: str
    owner_unit: str
    steward: str | None
    freshness_sla_s: int
    expected_volume_per_15m: int | None
    checks: dict[CheckKey, ResultView]


_SOURCES = f"""
SELECT s.id, s.key, s.name, ou.name AS owner_unit,
       coalesce(nullif(st.display_name, ''), st.email) AS steward, s.freshness_sla_s,
       s.expected_volume_per_15m
FROM sources s
JOIN org_units ou ON ou.id = s.owner_unit_id
LEFT JOIN users st ON st.id = s.steward_id
WHERE s.active AND ou.path <@ ANY({IN_SCOPE})
  AND (CAST(:source_id AS integer) IS NULL OR s.id = CAST(:source_id AS integer))
ORDER BY s.name, s.id
LIMIT :limit
"""

_LATEST = f"""
SELECT {RESULT_COLUMNS}
FROM unnest(CAST(:source_ids AS integer[])) AS x(source_id)
CROSS JOIN dq_checks c
CROSS JOIN LATERAL (
    SELECT * FROM dq_results r
    WHERE r.source_id = x.source_id AND r.check_id = c.id
    ORDER BY r.at DESC, r.id DESC LIMIT 1
) r
WHERE c.enabled
"""


def health_matrix(
    connection: Connection,
    principal: Principal,
    *,
    source_id: int | None = None,
    limit: int = 500,
) -> list[SourceHealth]:
    """Every active source in scope (or just ``source_id``) with its checks' latest results.

    Raises:
        AccessDenied: missing ``kpi:view``.
    """
    principal.require(Permission.KPI_VIEW)
    sources = connection.execute(
        text(_SOURCES),
        {"source_id": source_id, "limit": limit, **scope_params(principal.scope_paths)},
    ).all()
    if not sources:
        return []
    latest: dict[int, dict[CheckKey, ResultView]] = {row[0]: {} for row in sources}
    for row in connection.execute(text(_LATEST), {"source_ids": list(latest)}):
        result = result_view(row)
        latest[result.source_id][result.check] = result
    return [
        SourceHealth(id_, key, name, unit, steward, sla, expected, latest[id_])
        for id_, key, name, unit, steward, sla, expected in sources
    ]


def _source_in_scope(connection: Connection, principal: Principal, source_id: int) -> None:
    if not health_matrix(connection, principal, source_id=source_id, limit=1):
        raise AccessDenied(NO_SOURCE)


def recent_results(
    connection: Connection,
    principal: Principal,
    source_id: int,
    *,
    check: CheckKey | None = None,
    limit: int = 200,
) -> list[ResultView]:
    """A source's newest results (of one check, or all), newest first.

    Raises:
        AccessDenied: missing ``kpi:view``, or the source is not in scope.
    """
    _source_in_scope(connection, principal, source_id)
    rows = connection.execute(
        text(
            f"SELECT {RESULT_COLUMNS} FROM dq_results r JOIN dq_checks c ON c.id = r.check_id "
            "WHERE r.source_id = :source_id "
            "AND (CAST(:check AS text) IS NULL OR c.key = CAST(:check AS text)) "
            "ORDER BY r.at DESC, r.id DESC LIMIT :limit"
        ),
        {"source_id": source_id, "check": None if check is None else check.value, "limit": limit},
    )
    return [result_view(row) for row in rows]


@dataclass(frozen=True, slots=True)
class VolumePoint:
    """A window's records against what was expected of it.

    ``low``/``high`` bound the usual volume: the anomaly check's warning band around the
    learned median, or (a declared volume) the completeness limit below it and no upper bound.
    """

    window: Window
    received: int
    expected: float | None
    low: float | None
    high: float | None


# Each stretch of the chart (the shown days, the same days in each history week) is its own
# LATERAL index probe, as the check cycle's window counts are (models/quality/measures.py). As
# a plain join of the stretches to rollup_1m, the planner, knowing neither the metric (a
# subquery) nor the stretches' times, read the metric's whole history from every partition and
# filtered it once per stretch: 310-370 ms for web sessions at demo scale 1, whatever the span
# (docs/benchmarks.md). The GROUP BY keeps the probe from being flattened back into that join.
# The stretches are disjoint and start and end on window bounds (:func:`_stretches`), so each
# window comes from one probe.
_VOLUMES = """
SELECT x.at, x.n
FROM unnest(CAST(:starts AS timestamptz[]), CAST(:stops AS timestamptz[])) AS p(start, stop)
CROSS JOIN LATERAL (
    SELECT date_bin(CAST(:window AS interval), r.bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00')
             AS at,
           sum(r.n) AS n
    FROM rollup_1m r
    WHERE r.metric_id = (SELECT min(m.id) FROM metrics m
                         WHERE m.source_id = :source_id AND m.measure IS NULL)
      AND r.bucket >= p.start AND r.bucket < p.stop
    GROUP BY 1
) x
"""

MAX_BAND_WINDOWS = 4 * 24 * 14
"""At most two weeks of windows per chart."""


def volume_band(
    connection: Connection,
    principal: Principal,
    source_id: int,
    start: dt.datetime,
    end: dt.datetime,
    settings: Settings,
) -> list[VolumePoint]:
    """The source's records per 15-minute window in ``[start, end)`` with the expected band,
    as the completeness and anomaly checks see them.

    Raises:
        AccessDenied: missing ``kpi:view``, or the source is not in scope.
        ValueError: more than :data:`MAX_BAND_WINDOWS` windows.
    """
    sources = health_matrix(connection, principal, source_id=source_id, limit=1)
    if not sources:
        raise AccessDenied(NO_SOURCE)
    first, last = floor_to(start, WINDOW), floor_to(end - dt.timedelta(microseconds=1), WINDOW)
    windows = int((last - first) / WINDOW) + 1
    if windows > MAX_BAND_WINDOWS:
        raise ValueError(f"at most {MAX_BAND_WINDOWS} windows of 15 minutes per chart")
    weeks = settings.dq_history_weeks
    stretches = _stretches(first, last + WINDOW, weeks)
    rows = connection.execute(
        text(_VOLUMES),
        {
            "window": WINDOW,
            "starts": [start for start, _ in stretches],
            "stops": [stop for _, stop in stretches],
            "source_id": source_id,
        },
    )
    counts: dict[dt.datetime, int] = {at: int(n) for at, n in rows}
    declared = sources[0].expected_volume_per_15m
    points = []
    for n in range(windows):
        at = first + WINDOW * n
        history = [int(counts.get(at - WEEK * k, 0)) for k in range(1, weeks + 1)]
        points.append(
            _point(Window(at, at + WINDOW), int(counts.get(at, 0)), history, declared, settings)
        )
    return points


def _stretches(
    start: dt.datetime, stop: dt.datetime, weeks: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """``[start, stop)`` and the same stretch in each of ``weeks`` previous weeks, oldest first,
    overlapping ones merged: a chart longer than a week overlaps its own history, and each
    minute must be counted once."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for k in range(weeks, -1, -1):
        lo, hi = start - WEEK * k, stop - WEEK * k
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _point(
    window: Window, received: int, history: list[int], declared: int | None, settings: Settings
) -> VolumePoint:
    if declared:
        low = declared * (1 - settings.dq_completeness_max_drop)
        return VolumePoint(window, received, float(declared), low, None)
    base = baseline(history, settings.dq_min_history_weeks)
    if base is None:
        return VolumePoint(window, received, None, None, None)
    low, high = base.band(settings.dq_anomaly_warning_z)
    return VolumePoint(window, received, base.median, low, high)
