"""The demo's target plans: monthly plans for the group, each region and each country.

The additive KPIs (revenue, orders) get their own plan at every unit: the orders the
generator expects of the unit in the month (its business units' size, the weekly pattern and
the yearly trend of ``ingest.demo.profiles.ORDERS``), a little under, so every level is judged
against its own number; the countries pass theirs to their business units by last year's
share. The ratios and averages are planned once for the group and passed down as they are.
Plans cover every month of the current year and the December before (so that the last 30 days
have a target in January too).
"""

from __future__ import annotations

import calendar
import datetime as dt

from ingest.demo import catalog
from ingest.demo.generator import TREND_EPOCH
from ingest.demo.profiles import ORDERS
from models.catalog import KpiSpec
from models.enums import OrgLevel, TargetAllocation, TargetGrain
from models.targets import TargetPlanSpec

PLANNED_BELOW = 0.95
"""Plans are set a little below the generator's average: a normal day meets them."""
ORDER_VALUE_EUR = 83.0
"""About the generator's mean order value (``ingest.demo.profiles._order``: 84 EUR)."""


def _unit_weights() -> dict[str, float]:
    """Every unit's share of the group's volume (the generator's business-unit weights)."""
    profiles = catalog.business_units()
    total = sum(p.weight for p in profiles)
    parents = {spec.key: spec.parent_key for spec in catalog.org_units()}
    weights: dict[str, float] = {}
    for profile in profiles:
        key: str | None = profile.key
        while key is not None:
            weights[key] = weights.get(key, 0.0) + profile.weight / total
            key = parents[key]
    return weights


def _months(today: dt.date) -> list[dt.date]:
    return [dt.date(today.year - 1, 12, 1)] + [dt.date(today.year, m, 1) for m in range(1, 13)]


def _planned_units() -> list[str]:
    """The group, the regions and the countries (business units get a share)."""
    planned = (OrgLevel.COMPANY, OrgLevel.REGION, OrgLevel.COUNTRY)
    return [spec.key for spec in catalog.org_units() if spec.level in planned]


def expected_orders(month: dt.date) -> float:
    """The group's orders the generator expects in ``month`` (at scale 1, without noise)."""
    days = calendar.monthrange(month.year, month.month)[1]
    middle = month + dt.timedelta(days=days / 2)
    years = (middle - TREND_EPOCH.date()).days / 365.25
    return ORDERS.per_day * days * max(0.2, 1.0 + ORDERS.trend_per_year * years)


def _additive_plans(kpi: KpiSpec, months: list[dt.date]) -> list[TargetPlanSpec]:
    weights = _unit_weights()
    per_order = ORDER_VALUE_EUR if kpi.key == "revenue" else 1.0
    plans = []
    for unit in _planned_units():
        is_country = unit not in (catalog.COMPANY_KEY, *(r.key for r in catalog.REGIONS))
        for month in months:
            value = expected_orders(month) * per_order * weights[unit] * PLANNED_BELOW
            plans.append(
                TargetPlanSpec(
                    kpi=kpi.key,
                    unit=unit,
                    grain=TargetGrain.MONTH,
                    period=f"{month:%Y-%m}",
                    value=round(value),
                    allocation=TargetAllocation.SHARE if is_country else TargetAllocation.EXPLICIT,
                )
            )
    return plans


def _group_plans(kpi: KpiSpec, months: list[dt.date]) -> list[TargetPlanSpec]:
    assert kpi.target is not None
    return [
        TargetPlanSpec(
            kpi=kpi.key,
            unit=catalog.COMPANY_KEY,
            grain=TargetGrain.MONTH,
            period=f"{month:%Y-%m}",
            value=kpi.target,
            allocation=TargetAllocation.EQUAL,
        )
        for month in months
    ]


ADDITIVE = frozenset({"revenue", "orders"})


def demo_target_plans(today: dt.date) -> list[TargetPlanSpec]:
    """The demo's plans for the year of ``today`` (see the module)."""
    months = _months(today)
    plans: list[TargetPlanSpec] = []
    for kpi in catalog.KPIS:
        if kpi.target is None:
            continue
        plans += _additive_plans(kpi, months) if kpi.key in ADDITIVE else _group_plans(kpi, months)
    return plans
