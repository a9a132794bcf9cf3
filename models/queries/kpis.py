"""KPI reads: definitions, value against the previous period, series, breakdown by child unit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from sqlalchemy import Connection, RowMapping, text

from models.enums import Direction, Granularity, OrgLevel
from models.facts import BUCKET_WIDTH
from models.formulas import Aggregate, Formula, FormulaError, parse_formula
from models.permissions import Permission, Principal
from models.queries.common import DEFAULT_LIMITS, Period, QueryLimits, QueryTooLarge, floor_to
from models.queries.rollups import (
    NO_ROWS,
    MetricStats,
    ReadPiece,
    StatsKey,
    combine,
    fetch_stats,
    plan_reads,
)
from models.queries.scope import Unit, child_units, resolve_unit


class UnknownKpi(LookupError):
    """No KPI has this key."""


class InvalidKpi(ValueError):
    """A stored KPI whose formula cannot be computed (names the KPI and the formula error)."""


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    """A KPI with its parsed formula and the ids of the metrics (and sources) it reads."""

    id: int
    key: str
    name: str
    description: str
    formula: Formula
    unit: str
    format: str
    direction: Direction
    target: float | None
    warn_threshold: float | None
    crit_threshold: float | None
    default_granularity: Granularity
    levels: tuple[OrgLevel, ...]
    metric_ids: Mapping[str, int]
    source_ids: frozenset[int]


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


_KPI_COLUMNS = (
    "id, key, name, description, formula, unit, format, direction, target, "
    "warn_threshold, crit_threshold, default_granularity, CAST(levels AS text[]) AS levels"
)


def _definition(row: RowMapping, metrics: Mapping[str, tuple[int, int]]) -> KpiDefinition:
    try:
        formula = parse_formula(row["formula"], known_metrics=metrics.keys())
    except FormulaError as exc:
        raise InvalidKpi(f"KPI {row['key']!r}: {exc}") from exc
    used = {key: metrics[key] for key in formula.metric_keys}
    return KpiDefinition(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        description=row["description"],
        formula=formula,
        unit=row["unit"],
        format=row["format"],
        direction=Direction(row["direction"]),
        target=row["target"],
        warn_threshold=row["warn_threshold"],
        crit_threshold=row["crit_threshold"],
        default_granularity=Granularity(row["default_granularity"]),
        levels=tuple(OrgLevel(level) for level in row["levels"]),
        metric_ids={key: metric_id for key, (metric_id, _) in used.items()},
        source_ids=frozenset(source_id for _, source_id in used.values()),
    )


def _metrics_named(connection: Connection, keys: set[str]) -> dict[str, tuple[int, int]]:
    rows = connection.execute(
        text("SELECT key, id, source_id FROM metrics WHERE key = ANY(:keys) LIMIT :limit"),
        {"keys": sorted(keys), "limit": len(keys)},
    )
    return {key: (metric_id, source_id) for key, metric_id, source_id in rows}


def _referenced_keys(rows: Sequence[RowMapping]) -> set[str]:
    keys: set[str] = set()
    for row in rows:
        try:
            keys |= parse_formula(row["formula"]).metric_keys
        except FormulaError as exc:
            raise InvalidKpi(f"KPI {row['key']!r}: {exc}") from exc
    return keys


def load_kpis(
    connection: Connection, principal: Principal, *, limits: QueryLimits = DEFAULT_LIMITS
) -> list[KpiDefinition]:
    """Every KPI, by name. Raises InvalidKpi when a stored formula cannot be computed."""
    principal.require(Permission.KPI_VIEW)
    rows = list(
        connection.execute(
            text(f"SELECT {_KPI_COLUMNS} FROM kpis ORDER BY name, id LIMIT :limit"),
            {"limit": limits.row_limit},
        ).mappings()
    )
    metrics = _metrics_named(connection, _referenced_keys(rows))
    return [_definition(row, metrics) for row in rows]


def load_kpi(connection: Connection, principal: Principal, key: str) -> KpiDefinition:
    """The KPI with this key. Raises UnknownKpi, or InvalidKpi for a broken formula."""
    principal.require(Permission.KPI_VIEW)
    row = (
        connection.execute(
            text(f"SELECT {_KPI_COLUMNS} FROM kpis WHERE key = :key LIMIT 1"), {"key": key}
        )
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownKpi(f"no KPI with key {key!r}")
    return _definition(row, _metrics_named(connection, _referenced_keys([row])))


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
