"""The time window a time-ordered events block needs, found from the rollups' event counts.

The events table has no index on the org unit, so a block of a small unit's events over a
long period made PostgreSQL read every partition of the period (a country's support tickets
over 30 days: 150 thousand buffers, over a second) to keep a few hundred rows. The rollups
know how many events each unit had in each hour, so for a block in time order (no filters,
sorted by time or not sorted) two small rollup reads find the hour from which the period
holds enough rows, and the events are then read by the primary key's ``(source_id, ts)``
range over those hours only.

The counts are exact (events and rollups commit together), but the window is only a hint:
the caller reads the whole period again when the narrowed one gave fewer rows than it asked
(events removed by retention in between, say), so an answer never depends on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import Connection, text

from models.enums import Granularity
from models.facts import BUCKET_WIDTH
from models.permissions import Principal
from models.queries.common import Period
from models.queries.executive.rollups import fetch_stats, plan_reads
from models.queries.scope import Unit

_COUNT_METRICS = text(
    "SELECT id FROM metrics WHERE source_id = ANY(:source_ids) AND measure IS NULL ORDER BY id"
)


def count_metric_ids(connection: Connection, source_ids: Collection[int]) -> list[int]:
    """The implicit event-count metric of each source."""
    return list(connection.scalars(_COUNT_METRICS, {"source_ids": sorted(source_ids)}))


def _counts(
    connection: Connection,
    principal: Principal,
    unit: Unit,
    metric_ids: list[int],
    period: Period,
    granularity: Granularity,
) -> list[tuple[dt.datetime, float]]:
    """Events per bucket of ``granularity`` in ``period`` under the unit (in scope), in time
    order; empty buckets are left out."""
    found = fetch_stats(
        connection,
        scope_paths=principal.scope_paths,
        unit_id=unit.id,
        unit_path=unit.path,
        metric_ids=metric_ids,
        plan=plan_reads(period, granularity),
        series=granularity,
        max_rows=len(metric_ids) * (int(period.length / BUCKET_WIDTH[granularity]) + 2),
    )
    per_bucket = {slot: sum(s.n for s in stats.values()) for (_, slot), stats in found.items()}
    return sorted((slot, n) for slot, n in per_bucket.items() if slot is not None and n)


def _reaching(
    counts: list[tuple[dt.datetime, float]], rows: int, newest_first: bool
) -> dt.datetime | None:
    """The first bucket (from the end the order starts at) by which ``rows`` are reached."""
    seen = 0.0
    for bucket, n in reversed(counts) if newest_first else counts:
        seen += n
        if seen >= rows:
            return bucket
    return None


def _clip(period: Period, start: dt.datetime, end: dt.datetime) -> Period | None:
    start, end = max(period.start, start), min(period.end, end)
    return Period(start, end) if start < end else None


def block_window(
    connection: Connection,
    principal: Principal,
    unit: Unit,
    source_ids: Collection[int],
    period: Period,
    *,
    rows: int,
    newest_first: bool,
) -> Period | None:
    """The part of ``period`` whose events include the first ``rows`` in time order.

    Returns None when the whole period is needed (it holds fewer events than ``rows``, or
    the window would not be smaller).
    """
    metric_ids = count_metric_ids(connection, source_ids)
    if not metric_ids:
        return None
    days = _counts(connection, principal, unit, metric_ids, period, Granularity.DAY)
    day = _reaching(days, rows, newest_first)
    if day is None:
        return None
    one_day = BUCKET_WIDTH[Granularity.DAY]
    # Only the boundary day is looked at by the hour: the days beyond it are needed whole.
    boundary = _clip(period, day, day + one_day)
    assert boundary is not None  # the day had events of the period
    later = sum(n for d, n in days if (d > day if newest_first else d < day))
    hours = _counts(connection, principal, unit, metric_ids, boundary, Granularity.HOUR)
    hour = _reaching(hours, rows - int(later), newest_first)
    if hour is None:  # cannot happen with exact counts; stay correct if it does
        hour = day
    window = (
        _clip(period, hour, period.end)
        if newest_first
        else _clip(period, period.start, hour + BUCKET_WIDTH[Granularity.HOUR])
    )
    return window if window is not None and window != period else None
