"""KPI numbers: value against the previous period, series, and breakdown by child unit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from sqlalchemy import Connection

from models.enums import Granularity
from models.facts import BUCKET_WIDTH
from models.formulas import Aggregate
from models.permissions import Permission, Principal
from models.queries.common import DEFAULT_LIMITS, Period, QueryLimits, QueryTooLarge, floor_to
from models.queries.executive.definitions import KpiDefinition
from models.queries.executive.rollups import (
    NO_ROWS,
    MetricStats,
    ReadPiece,
    StatsKey,
    combine,
    fetch_stats,
    plan_reads,
)
from models.queries.scope import Unit, child_units, resolve_unit


@dataclass(frozen=True, slots=True)
class KpiValue:
    kpi_key: str
    unit: Unit
    period: Period
    value: float | None
    previous_period: Period
    previous_value: float | None


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket; ``start``/``end`` are clipped to the asked period at its edges."""

    start: dt.datetime
    end: dt.datetime
    value: float | None


@dataclass(frozen=True, slots=True)
class KpiSeries:
    kpi_key: str
    unit: Unit
    granularity: Granularity
    points: tuple[SeriesPoint, ...]
    tables_read: tuple[str, ...]
    """The rollup tables the answer came from, coarsest first (for tests and EXPLAIN pages)."""
    total: float | None = None
    """The KPI over the whole period (its formula over every bucket's rows together)."""


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    unit: Unit
    value: float | None


@dataclass(frozen=True, slots=True)
class KpiBreakdown:
    kpi_key: str
    unit: Unit
    period: Period
    rows: tuple[BreakdownRow, ...]


def _resolved(connection: Connection, principal: Principal, unit: int | str | Unit) -> Unit:
    """``unit`` in the principal's scope; a :class:`Unit` was resolved by the caller (the
    SQL filters by the scope again either way)."""
    return unit if isinstance(unit, Unit) else resolve_unit(connection, principal, unit)


def _all_metric_ids(kpis: Sequence[KpiDefinition]) -> list[int]:
    return sorted({metric_id for kpi in kpis for metric_id in kpi.metric_ids.values()})


def _bound_formula(kpi: KpiDefinition) -> Callable[[Mapping[int, MetricStats]], float | None]:
    """The KPI's formula as a function of its metrics' stats (absent metrics had no rows)."""
    return kpi.formula.bind(partial(_stats_reader, kpi.metric_ids))


def _evaluate(kpi: KpiDefinition, stats: Mapping[int, MetricStats]) -> float | None:
    return _bound_formula(kpi)(stats)


def _stats_reader(
    metric_ids: Mapping[str, int], aggregate: Aggregate
) -> Callable[[Mapping[int, MetricStats]], float | None]:
    metric_id, func = metric_ids[aggregate.metric_key], aggregate.func
    return lambda stats: stats.get(metric_id, NO_ROWS).value(func)


def _series_points(
    kpi: KpiDefinition,
    period: Period,
    granularity: Granularity,
    found: Mapping[StatsKey, Mapping[int, MetricStats]],
) -> tuple[SeriesPoint, ...]:
    # A series has hundreds of buckets: the formula is bound to its inputs once (each reads
    # its metric's stats of a bucket), and the value of an empty bucket is computed once.
    compute = _bound_formula(kpi)
    empty = compute({})
    width = BUCKET_WIDTH[granularity]
    points = []
    for bucket in series_buckets(period, granularity):
        stats = found.get((0, bucket))
        points.append(SeriesPoint(bucket, bucket + width, compute(stats) if stats else empty))
    # Only the edge buckets of an unaligned period are partial.
    if points:
        points[0] = replace(points[0], start=max(points[0].start, period.start))
        points[-1] = replace(points[-1], end=min(points[-1].end, period.end))
    return tuple(points)


def _unit_stats(
    connection: Connection,
    principal: Principal,
    unit: Unit,
    metric_ids: list[int],
    plan: Sequence[ReadPiece],
    *,
    max_rows: int,
    series: Granularity | None = None,
    by_child: bool = False,
) -> dict[StatsKey, dict[int, MetricStats]]:
    """:func:`fetch_stats` for ``unit``'s subtree within ``principal``'s scope."""
    return fetch_stats(
        connection,
        scope_paths=principal.scope_paths,
        unit_id=unit.id,
        unit_path=unit.path,
        metric_ids=metric_ids,
        plan=plan,
        series=series,
        by_child=by_child,
        max_rows=max_rows,
    )


def _period_stats(
    connection: Connection,
    principal: Principal,
    unit: Unit,
    metric_ids: list[int],
    period: Period,
) -> dict[int, MetricStats]:
    found = _unit_stats(
        connection, principal, unit, metric_ids, plan_reads(period), max_rows=len(metric_ids)
    )
    return found.get((0, None), {})


def kpi_values(
    connection: Connection,
    principal: Principal,
    kpis: Sequence[KpiDefinition],
    unit: int | str | Unit,
    period: Period,
) -> list[KpiValue]:
    """Each KPI over ``period`` and over the previous period of the same length, for the
    unit's whole subtree (within the principal's scope). Reads two queries for all KPIs.

    Raises:
        AccessDenied: missing ``kpi:view``, or the unit is not in the principal's scope.
    """
    principal.require(Permission.KPI_VIEW)
    resolved = _resolved(connection, principal, unit)
    now = kpi_totals(connection, principal, kpis, resolved, period)
    before = kpi_totals(connection, principal, kpis, resolved, period.previous)
    return [
        KpiValue(kpi.key, resolved, period, value, period.previous, previous)
        for kpi, value, previous in zip(kpis, now, before, strict=True)
    ]


def kpi_totals(
    connection: Connection,
    principal: Principal,
    kpis: Sequence[KpiDefinition],
    unit: int | str | Unit,
    period: Period,
) -> list[float | None]:
    """Each KPI over ``period`` alone, for the unit's subtree (one query for all of them).

    Raises:
        AccessDenied: missing ``kpi:view``, or the unit is not in the principal's scope.
    """
    principal.require(Permission.KPI_VIEW)
    resolved = _resolved(connection, principal, unit)
    stats = _period_stats(connection, principal, resolved, _all_metric_ids(kpis), period)
    return [_evaluate(kpi, stats) for kpi in kpis]


def kpi_value(
    connection: Connection,
    principal: Principal,
    kpi: KpiDefinition,
    unit: int | str | Unit,
    period: Period,
) -> KpiValue:
    """One KPI's value over ``period`` and the previous period (see :func:`kpi_values`)."""
    return kpi_values(connection, principal, [kpi], unit, period)[0]


def series_buckets(period: Period, granularity: Granularity) -> list[dt.datetime]:
    """Starts of the UTC buckets of ``granularity`` that ``period`` touches."""
    width = BUCKET_WIDTH[granularity]
    starts, bucket = [], floor_to(period.start, granularity)
    while bucket < period.end:
        starts.append(bucket)
        bucket += width
    return starts


def _bucket_count(period: Period, granularity: Granularity) -> int:
    return -(-(period.end - floor_to(period.start, granularity)) // BUCKET_WIDTH[granularity])


def _check_bucket_count(period: Period, granularity: Granularity, limits: QueryLimits) -> None:
    count = _bucket_count(period, granularity)
    if count > limits.row_limit:
        raise QueryTooLarge(
            f"a series of {count} {granularity.value} buckets is more than the limit of "
            f"{limits.row_limit}: choose a coarser granularity or a shorter period"
        )


def _summed(found: Mapping[StatsKey, Mapping[int, MetricStats]]) -> dict[int, MetricStats]:
    """Each metric's stats over all the buckets of ``found`` together."""
    summed: dict[int, MetricStats] = {}
    for stats in found.values():
        for metric_id, s in stats.items():
            t = summed.get(metric_id)
            summed[metric_id] = s if t is None else combine(t, s)
    return summed


def kpi_series(
    connection: Connection,
    principal: Principal,
    kpi: KpiDefinition,
    unit: int | str | Unit,
    period: Period,
    granularity: Granularity,
    *,
    limits: QueryLimits = DEFAULT_LIMITS,
) -> KpiSeries:
    """The KPI per UTC bucket of ``granularity`` over ``period``, for the unit's subtree.

    Every bucket the period touches is returned, in time order; its value is what the formula
    gives for that bucket (counts and sums of an empty bucket are 0, so a count KPI shows 0
    and a ratio shows None). Edge buckets of an unaligned period cover only its part of them.
    ``total`` is the KPI over the whole period.

    Raises:
        AccessDenied: missing ``kpi:view``, or the unit is not in the principal's scope.
        QueryTooLarge: more buckets than ``limits.row_limit``.
    """
    return kpi_series_set(connection, principal, [kpi], unit, period, granularity, limits=limits)[0]


def kpi_series_set(
    connection: Connection,
    principal: Principal,
    kpis: Sequence[KpiDefinition],
    unit: int | str | Unit,
    period: Period,
    granularity: Granularity,
    *,
    limits: QueryLimits = DEFAULT_LIMITS,
) -> list[KpiSeries]:
    """:func:`kpi_series` of each of ``kpis``, read in one query (the Overview's sparklines
    and values)."""
    principal.require(Permission.KPI_VIEW)
    _check_bucket_count(period, granularity, limits)
    resolved = _resolved(connection, principal, unit)
    metric_ids = _all_metric_ids(kpis)
    plan = plan_reads(period, granularity)
    found = _unit_stats(
        connection,
        principal,
        resolved,
        metric_ids,
        plan,
        series=granularity,
        max_rows=_bucket_count(period, granularity) * max(len(metric_ids), 1),
    )
    totals = _summed(found)
    tables = tuple(dict.fromkeys(piece.table for piece in plan))
    return [
        KpiSeries(
            kpi.key,
            resolved,
            granularity,
            _series_points(kpi, period, granularity, found),
            tables,
            _evaluate(kpi, totals),
        )
        for kpi in kpis
    ]


def kpi_breakdown(
    connection: Connection,
    principal: Principal,
    kpi: KpiDefinition,
    unit: int | str | Unit,
    period: Period,
    *,
    limits: QueryLimits = DEFAULT_LIMITS,
) -> KpiBreakdown:
    """The KPI over ``period`` for each child of the unit in the principal's scope, by name.

    Children without data are listed with what the formula gives for no data. Events filed
    on the unit itself (not on a descendant) belong to no child.

    Raises:
        AccessDenied: missing ``kpi:view``, or the unit is not in the principal's scope (also
            when the scope is a subtree below it).
    """
    principal.require(Permission.KPI_VIEW)
    resolved = _resolved(connection, principal, unit)
    children = child_units(connection, principal, resolved, limits=limits)
    metric_ids = sorted(kpi.metric_ids.values())
    found = _unit_stats(
        connection,
        principal,
        resolved,
        metric_ids,
        plan_reads(period),
        by_child=True,
        max_rows=max(len(children), 1) * len(metric_ids),
    )
    rows = tuple(
        BreakdownRow(child, _evaluate(kpi, found.get((child.id, None), {}))) for child in children
    )
    return KpiBreakdown(kpi.key, resolved, period, rows)
