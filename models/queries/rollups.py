"""Reading the rollups: which tables answer a period exactly, and their aggregates per metric."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from models.enums import Granularity
from models.facts import BUCKET_WIDTH, ROLLUPS
from models.formulas import Aggregate
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


@dataclass(frozen=True, slots=True)
class MetricStats:
    """A metric's aggregates over some rows of a rollup (``n`` is 0 when there were none)."""

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


def aggregate_values(
    aggregates: Sequence[Aggregate],
    metric_ids: Mapping[str, int],
    stats: Mapping[int, MetricStats],
) -> dict[Aggregate, float | None]:
    """The inputs of a formula, from the stats of the metrics it reads."""
    return {a: stats.get(metric_ids[a.metric_key], NO_ROWS).value(a.func) for a in aggregates}


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


def _pieces_sql(plan: Sequence[ReadPiece]) -> tuple[str, dict[str, Any]]:
    selects, params = [], {}
    for i, piece in enumerate(plan):
        # Table names come from models.facts, never from the caller.
        selects.append(
            "SELECT bucket, metric_id, org_unit_id, n, total, min_v, max_v "
            f"FROM {piece.table} WHERE metric_id = ANY(CAST(:metric_ids AS integer[])) "
            f"AND bucket >= :start_{i} AND bucket < :end_{i} "
            "AND org_unit_id = ANY(ARRAY(SELECT id FROM units))"
        )
        params[f"start_{i}"], params[f"end_{i}"] = piece.start, piece.end
    return "\nUNION ALL\n".join(selects), params


def _slot_sql(plan: Sequence[ReadPiece], series: Granularity | None) -> str:
    if series is None:
        return "NULL::timestamptz"
    if all(piece.table == ROLLUPS[series].name for piece in plan):
        return "p.bucket"
    return f"date_bin(INTERVAL '1 {series.value}', p.bucket, {_UTC_ORIGIN})"


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
    pieces, params = _pieces_sql(plan)
    # The whole subtree is one group: no join, the unit filter is an array built once.
    group, join = ("un.grp", "JOIN units un ON un.id = p.org_unit_id") if by_child else ("0", "")
    sql = (
        f"WITH units AS ({_CHILD_UNITS if by_child else _SUBTREE_UNITS})\n"
        f"SELECT {group} AS grp, {_slot_sql(plan, series)} AS slot, p.metric_id, "
        "CAST(sum(p.n) AS double precision) AS n, sum(p.total) AS total, "
        "min(p.min_v) AS min_v, max(p.max_v) AS max_v "
        f"FROM ({pieces}) p {join} "
        "GROUP BY 1, 2, 3 LIMIT :max_rows"
    )
    params.update(
        scope_params(scope_paths),
        unit_id=unit_id,
        unit_path=unit_path,
        metric_ids=list(metric_ids),
        max_rows=max_rows,
    )
    found: dict[StatsKey, dict[int, MetricStats]] = {}
    for row in connection.execute(text(sql), params).mappings().all():
        stats = MetricStats(row["n"], row["total"], row["min_v"], row["max_v"])
        found.setdefault((row["grp"], row["slot"]), {})[row["metric_id"]] = stats
    return found
