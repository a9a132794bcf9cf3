"""Reading the rollups: which tables answer a period exactly, and their aggregates per metric."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from models.enums import Granularity
from models.facts import BUCKET_WIDTH, ROLLUPS
from models.queries.common import IN_SCOPE, Period, ceil_to, floor_to, scope_params

_COARSEST_FIRST = (Granularity.DAY, Granularity.HOUR, Granularity.MINUTE)


@dataclass(frozen=True, slots=True)
class ReadPiece:
    """Read ``table`` for buckets in ``[start, end)``; pieces of a plan never overlap."""

    table: str
    start: dt.datetime
    end: dt.datetime


def _decompose(
    start: dt.datetime, end: dt.datetime, levels: Sequence[Granularity]
) -> list[ReadPiece]:
    if start >= end:
        return []
    level, finer = levels[0], levels[1:]
    if not finer:
        return [ReadPiece(ROLLUPS[level].name, start, end)]
    inner_start, inner_end = ceil_to(start, level), floor_to(end, level)
    if inner_start >= inner_end:
        return _decompose(start, end, finer)
    return [
        *_decompose(start, inner_start, finer),
        ReadPiece(ROLLUPS[level].name, inner_start, inner_end),
        *_decompose(inner_end, end, finer),
    ]


def plan_reads(period: Period, granularity: Granularity = Granularity.DAY) -> tuple[ReadPiece, ...]:
    """The coarsest rollups that together cover ``period`` exactly.

    Whole days come from ``rollup_1d``, whole hours from ``rollup_1h``, the ragged edges from
    ``rollup_1m``; nothing coarser than ``granularity`` is used, so every piece falls inside
    one bucket of a series at that granularity.
    """
    levels = [g for g in _COARSEST_FIRST if BUCKET_WIDTH[g] <= BUCKET_WIDTH[granularity]]
    return tuple(_decompose(period.start, period.end, levels))


class MetricStats(NamedTuple):
    """A metric's aggregates over some rows of a rollup (``n`` is 0 when there were none).

    A named tuple rather than a frozen dataclass: a series builds one per bucket, and a
    frozen dataclass costs five times as much to construct.
    """

    n: float
    total: float | None
    min_v: float | None
    max_v: float | None

    def value(self, func: str) -> float | None:
        """The aggregate ``func``: an empty set counts and sums to 0 and has no min/max/avg."""
        if func == "count":
            return self.n
        if func == "sum":
            return self.total if self.n else 0.0
        if not self.n:
            return None
        if func == "min":
            return self.min_v
        if func == "max":
            return self.max_v
        assert self.total is not None
        return self.total / self.n


NO_ROWS = MetricStats(0.0, None, None, None)


def _add(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def combine(a: MetricStats, b: MetricStats) -> MetricStats:
    """The stats of the rows of ``a`` and of ``b`` together."""
    return MetricStats(
        a.n + b.n,
        _add(a.total, b.total),
        b.min_v if a.min_v is None else a.min_v if b.min_v is None else min(a.min_v, b.min_v),
        b.max_v if a.max_v is None else a.max_v if b.max_v is None else max(a.max_v, b.max_v),
    )


_SUBTREE_UNITS = (
    "SELECT u.id FROM org_units u "
    f"WHERE u.path <@ CAST(:unit_path AS ltree) AND u.path <@ ANY({IN_SCOPE})"
)
# Every unit under the asked one, labelled with the child (in scope) it lies under.
_CHILD_UNITS = (
    "SELECT u.id, c.id AS grp FROM org_units c "
    "JOIN org_units u ON u.path <@ c.path "
    f"WHERE c.parent_id = :unit_id AND c.path <@ ANY({IN_SCOPE}) AND u.path <@ ANY({IN_SCOPE})"
)
# date_bin from a UTC midnight is date_trunc(..., 'UTC') without a time zone lookup per row.
_UTC_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"

StatsKey = tuple[int, dt.datetime | None]
"""(group, series bucket): the group is 0 for a whole subtree, else the child unit's id."""


def _slot_sql(table: str, series: Granularity | None) -> str:
    if series is None:
        return "NULL::timestamptz"
    if table == ROLLUPS[series].name:
        return "bucket"
    return f"date_bin(INTERVAL '1 {series.value}', bucket, {_UTC_ORIGIN})"


def _pieces_sql(
    plan: Sequence[ReadPiece], series: Granularity | None
) -> tuple[str, dict[str, Any]]:
    selects, params = [], {}
    for i, piece in enumerate(plan):
        # Table names come from models.facts, never from the caller. Each piece computes its
        # series slot itself: the piece read from the series' own rollup needs no date_bin.
        selects.append(
            f"SELECT {_slot_sql(piece.table, series)} AS slot, metric_id, org_unit_id, "
            f"n, total, min_v, max_v FROM {piece.table} "
            "WHERE metric_id = ANY(CAST(:metric_ids AS integer[])) "
            f"AND bucket >= :start_{i} AND bucket < :end_{i} "
            "AND org_unit_id = ANY(ARRAY(SELECT id FROM units))"
        )
        params[f"start_{i}"], params[f"end_{i}"] = piece.start, piece.end
    return "\nUNION ALL\n".join(selects), params


_SUMS = (
    "CAST(sum(p.n) AS double precision) AS n, sum(p.total) AS total, "
    "min(p.min_v) AS min_v, max(p.max_v) AS max_v"
)


def _stats_sql(pieces: str, by_child: bool) -> str:
    if not by_child:
        # The whole subtree is one group: no join, the unit filter is an array built once.
        return (
            f"WITH units AS ({_SUBTREE_UNITS})\n"
            f"SELECT 0 AS grp, p.slot, p.metric_id, {_SUMS} "
            f"FROM ({pieces}) p GROUP BY 2, 3 LIMIT :max_rows"
        )
    # Fold the rollup rows per unit first, and only then map units to children: the planner
    # cannot estimate the ltree join (it guesses 1 row) and, given the pieces as the inner
    # side of a join, re-runs all of them once per unit. The materialised per-unit sums are a
    # few rows per unit, so any join order is cheap.
    return (
        f"WITH units AS MATERIALIZED ({_CHILD_UNITS}),\n"
        f"per_unit AS MATERIALIZED (SELECT p.slot, p.metric_id, p.org_unit_id, {_SUMS} "
        f"FROM ({pieces}) p GROUP BY 1, 2, 3)\n"
        f"SELECT un.grp, p.slot, p.metric_id, {_SUMS} "
        "FROM per_unit p JOIN units un ON un.id = p.org_unit_id "
        "GROUP BY 1, 2, 3 LIMIT :max_rows"
    )


def fetch_stats(
    connection: Connection,
    *,
    scope_paths: tuple[str, ...],
    unit_id: int,
    unit_path: str,
    metric_ids: Sequence[int],
    plan: Sequence[ReadPiece],
    series: Granularity | None = None,
    by_child: bool = False,
    max_rows: int,
) -> dict[StatsKey, dict[int, MetricStats]]:
    """Aggregates per metric of the rollup rows in ``plan``, for the unit's subtree in scope.

    Args:
        series: also group by buckets of this granularity (UTC).
        by_child: group by the unit's children (in scope) instead of the whole subtree.
        max_rows: the most rows the grouping can produce; the query is limited to it.
    """
    if not plan or not metric_ids:
        return {}
    pieces, params = _pieces_sql(plan, series)
    sql = _stats_sql(pieces, by_child)
    params.update(
        scope_params(scope_paths),
        unit_id=unit_id,
        unit_path=unit_path,
        metric_ids=list(metric_ids),
        max_rows=max_rows,
    )
    found: dict[StatsKey, dict[int, MetricStats]] = {}
    rows = connection.execute(text(sql), params).all()
    for grp, slot, metric_id, n, total, min_v, max_v in rows:
        found.setdefault((grp, slot), {})[metric_id] = MetricStats(n, total, min_v, max_v)
    return found
