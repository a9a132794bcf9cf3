"""Target reads: a KPI's target for a unit over a time range, with the rule that produced it.

The unit must lie in the principal's scope. Its target may come from an ancestor's plan
(``equal`` or ``share`` allocation), so the ancestors' plans are read whatever the scope; what
a scoped user learns of them is only the unit's own part and the rule's name (the ``share``
rule reads the ancestor's rollups, and tells only the ratio). ``docs/targets.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from sqlalchemy import Connection, text

from models.enums import Granularity, TargetAllocation, TargetGrain
from models.facts import ROLLUPS
from models.formulas import Aggregate
from models.permissions import Permission, Principal
from models.queries.executive.definitions import KpiDefinition
from models.queries.executive.rollups import NO_ROWS, MetricStats, ReadPiece, fetch_stats
from models.queries.scope import Unit, resolve_unit
from models.target_periods import add_months
from models.target_rules import ChainUnit, PlanBook, PlanRow, Target, target_over

_CHAIN_SQL = (
    "SELECT u.id, u.name, CAST(u.path AS text) AS path, "
    "(SELECT count(*) FROM org_units c WHERE c.parent_id = u.id AND c.active) AS children "
    "FROM org_units u WHERE u.path @> CAST(:path AS ltree) ORDER BY nlevel(u.path) DESC"
)
# A plan lasts at most a year: one that starts a year before the range cannot touch it.
_PLANS_SQL = (
    "SELECT kpi_id, org_unit_id, grain, period_start, value, allocation, warn_pct, crit_pct "
    "FROM target_plans WHERE kpi_id = ANY(:kpis) AND org_unit_id = ANY(:units) "
    "AND period_start < :end AND period_start > :earliest"
)
_DEFAULTS_SQL = "SELECT id, target_warn_pct, target_crit_pct FROM kpis WHERE id = ANY(:kpis)"


def _chain(connection: Connection, unit: Unit) -> tuple[list[ChainUnit], list[str]]:
    """The unit and its ancestors (nearest first), and their ltree paths."""
    rows = connection.execute(text(_CHAIN_SQL), {"path": unit.path}).all()
    return [ChainUnit(r.id, r.name, r.children) for r in rows], [r.path for r in rows]


def _plans(
    connection: Connection, kpi_ids: list[int], unit_ids: list[int], start: dt.date, end: dt.date
) -> dict[int, list[PlanRow]]:
    params = {"kpis": kpi_ids, "units": unit_ids, "end": end, "earliest": add_months(start, -12)}
    found: dict[int, list[PlanRow]] = {}
    for r in connection.execute(text(_PLANS_SQL), params):
        plan = PlanRow(
            r.org_unit_id,
            TargetGrain(r.grain),
            r.period_start,
            r.value,
            TargetAllocation(r.allocation),
            r.warn_pct,
            r.crit_pct,
        )
        if plan.end > start:
            found.setdefault(r.kpi_id, []).append(plan)
    return found


Stats = Mapping[int, MetricStats]


def _reader(metric_ids: Mapping[str, int], aggregate: Aggregate) -> Callable[[Stats], float | None]:
    metric_id, func = metric_ids[aggregate.metric_key], aggregate.func
    return lambda stats: stats.get(metric_id, NO_ROWS).value(func)


def _kpi_value(
    connection: Connection, kpi: KpiDefinition, unit_id: int, path: str, window: ReadPiece
) -> float | None:
    """The KPI over ``window`` for the whole subtree of the unit (no scope: see the module)."""
    metric_ids = sorted(kpi.metric_ids.values())
    found = fetch_stats(
        connection,
        scope_paths=(path,),
        unit_id=unit_id,
        unit_path=path,
        metric_ids=metric_ids,
        plan=(window,),
        max_rows=max(len(metric_ids), 1),
    )
    stats: dict[int, MetricStats] = found.get((0, None), {})
    return kpi.formula.bind(partial(_reader, kpi.metric_ids))(stats)


def _share(
    connection: Connection,
    kpi: KpiDefinition,
    child: tuple[int, str],
    parent: tuple[int, str],
    plan_start: dt.date,
) -> float | None:
    """The child's share of the parent's KPI value over the year before ``plan_start``."""
    start = dt.datetime(plan_start.year, plan_start.month, 1, tzinfo=dt.UTC)
    window = ReadPiece(ROLLUPS[Granularity.DAY].name, start.replace(year=start.year - 1), start)
    whole = _kpi_value(connection, kpi, *parent, window)
    part = _kpi_value(connection, kpi, *child, window)
    # No value (or nothing) for the child, as for the parent, is no history: a new unit would
    # otherwise get a target of 0, which every value meets.
    if whole is None or part is None or whole <= 0 or part <= 0:
        return None
    return part / whole


def _shares(
    connection: Connection,
    kpi: KpiDefinition,
    chain: Sequence[ChainUnit],
    paths: Sequence[str],
    plans: Sequence[PlanRow],
) -> dict[tuple[int, dt.date], float | None]:
    """Every share a ``share`` plan of an ancestor could need, down the chain to the unit."""
    found: dict[tuple[int, dt.date], float | None] = {}
    index = {unit.id: i for i, unit in enumerate(chain)}
    for plan in plans:
        if plan.allocation is not TargetAllocation.SHARE:
            continue
        for i in range(index[plan.unit_id]):
            key = (chain[i].id, plan.start)
            if key not in found:
                child, parent = (chain[i].id, paths[i]), (chain[i + 1].id, paths[i + 1])
                found[key] = _share(connection, kpi, child, parent, plan.start)
    return found


def targets_for(
    connection: Connection,
    principal: Principal,
    kpis: Sequence[KpiDefinition],
    unit: int | str | Unit,
    start: dt.datetime,
    end: dt.datetime,
) -> list[Target]:
    """Each KPI's target for ``unit`` over ``[start, end)`` (UTC): the unit's own plan, or
    what its parent's target passes down, pro-rated for additive KPIs; a ``Target`` whose
    ``value`` is None (and whose text says why) when there is none.

    Raises:
        AccessDenied: missing ``kpi:view``, or the unit is not in the principal's scope.
    """
    principal.require(Permission.KPI_VIEW)
    resolved = unit if isinstance(unit, Unit) else resolve_unit(connection, principal, unit)
    if not kpis:
        return []
    chain, paths = _chain(connection, resolved)
    kpi_ids = [kpi.id for kpi in kpis]
    first = start.astimezone(dt.UTC).date()
    plans = _plans(
        connection,
        kpi_ids,
        [u.id for u in chain],
        first,
        end.astimezone(dt.UTC).date() + dt.timedelta(days=1),
    )
    defaults = {
        r.id: (r.target_warn_pct, r.target_crit_pct)
        for r in connection.execute(text(_DEFAULTS_SQL), {"kpis": kpi_ids})
    }
    found = []
    for kpi in kpis:
        mine = plans.get(kpi.id, [])
        additive = kpi.formula.is_additive
        book = PlanBook(
            chain=tuple(chain),
            plans=tuple(mine),
            additive=additive,
            default_warn_pct=defaults.get(kpi.id, (None, None))[0],
            default_crit_pct=defaults.get(kpi.id, (None, None))[1],
            shares=_shares(connection, kpi, chain, paths, mine) if additive else {},
        )
        found.append(target_over(book, start, end))
    return found


def target_for(
    connection: Connection,
    principal: Principal,
    kpi: KpiDefinition,
    unit: int | str | Unit,
    start: dt.datetime,
    end: dt.datetime,
) -> Target:
    """One KPI's target for ``unit`` over ``[start, end)`` (see :func:`targets_for`)."""
    return targets_for(connection, principal, [kpi], unit, start, end)[0]
