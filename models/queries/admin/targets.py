"""The target plan grid's reads: the KPIs, and one KPI's plans for the active units in the
admin's scope and the periods of one fiscal year at one grain (``catalog:manage``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.enums import Direction, TargetAllocation, TargetGrain
from models.permissions import Permission, Principal
from models.queries.common import IN_SCOPE, scope_params
from models.target_periods import MONTHS, add_months, fiscal_year_start, period_key

MANAGE = Permission.CATALOG_MANAGE
MAX_UNITS = 2000
MAX_KPIS = 500


@dataclass(frozen=True, slots=True)
class KpiChoice:
    key: str
    name: str
    direction: Direction


@dataclass(frozen=True, slots=True)
class StoredPlan:
    value: float
    allocation: TargetAllocation
    warn_pct: float | None
    crit_pct: float | None


@dataclass(frozen=True, slots=True)
class GridUnit:
    """A row of the grid: an active unit in scope, and its plans by period start."""

    key: str
    name: str
    depth: int
    plans: dict[dt.date, StoredPlan]


def grid_periods(grain: TargetGrain, fiscal_year: int, start_month: int) -> list[dt.date]:
    """The first days of the periods of ``grain`` in the fiscal year."""
    first = fiscal_year_start(fiscal_year, start_month)
    step = MONTHS[grain]
    return [add_months(first, i) for i in range(0, 12, step)]


def period_labels(grain: TargetGrain, starts: Sequence[dt.date], start_month: int) -> list[str]:
    return [period_key(grain, start, start_month) for start in starts]


def kpi_choices(connection: Connection, principal: Principal) -> list[KpiChoice]:
    """Every KPI, by name (plans are per unit: the scope limits the rows, not the KPIs)."""
    principal.require(MANAGE)
    rows = connection.execute(
        text("SELECT key, name, direction FROM kpis ORDER BY name, key LIMIT :limit"),
        {"limit": MAX_KPIS},
    )
    return [KpiChoice(str(k), str(n), Direction(d)) for k, n, d in rows]


_UNITS = f"""
SELECT u.id, u.key, u.name, nlevel(u.path) AS depth FROM org_units u
WHERE u.active AND u.path <@ ANY({IN_SCOPE}) ORDER BY u.path LIMIT :limit
"""
_PLANS = """
SELECT p.org_unit_id, p.period_start, p.value, p.allocation, p.warn_pct, p.crit_pct
FROM target_plans p JOIN kpis k ON k.id = p.kpi_id
WHERE k.key = :kpi AND p.grain = CAST(:grain AS target_grain) AND p.org_unit_id = ANY(:units)
  AND p.period_start = ANY(:starts)
"""


def plan_grid(
    connection: Connection,
    principal: Principal,
    kpi_key: str,
    grain: TargetGrain,
    starts: Sequence[dt.date],
) -> list[GridUnit]:
    """The active units in scope (tree order) with the KPI's plans at ``grain`` starting on
    one of ``starts``."""
    principal.require(MANAGE)
    units = connection.execute(
        text(_UNITS), {"limit": MAX_UNITS, **scope_params(principal.scope_paths)}
    ).all()
    plans: dict[int, dict[dt.date, StoredPlan]] = {}
    params = {
        "kpi": kpi_key,
        "grain": grain.value,
        "units": [int(u.id) for u in units],
        "starts": list(starts),
    }
    for r in connection.execute(text(_PLANS), params):
        plans.setdefault(int(r.org_unit_id), {})[r.period_start] = StoredPlan(
            float(r.value), TargetAllocation(r.allocation), r.warn_pct, r.crit_pct
        )
    top = min((int(u.depth) for u in units), default=1)
    return [
        GridUnit(str(u.key), str(u.name), int(u.depth) - top, plans.get(int(u.id), {}))
        for u in units
    ]
