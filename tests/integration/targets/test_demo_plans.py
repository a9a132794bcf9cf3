"""The demo's target plans: every region and country has its own, and they add up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ingest.demo import catalog
from ingest.demo.seed import seed_demo
from ingest.demo.targets import demo_target_plans
from models.enums import OrgLevel, TargetAllocation
from models.org import OrgUnit
from models.settings import Settings
from models.targets import TargetPlan


def test_every_region_and_country_has_its_own_plans_and_the_parts_add_up(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    seed_demo(db, settings.model_copy(update={"demo_mode": False, "data_dir": str(tmp_path)}))
    plans = demo_target_plans(today)
    with Session(db) as session:
        stored = session.scalar(select(func.count()).select_from(TargetPlan))
        levels = dict(session.execute(select(OrgUnit.key, OrgUnit.level)).all())
    assert stored == len(plans)
    month = f"{today:%Y-%m}"
    revenue = {p.unit: p for p in plans if p.kpi == "revenue" and p.period == month}
    planned = {u for u, level in levels.items() if level is not OrgLevel.BUSINESS_UNIT}
    assert set(revenue) == planned
    regions = sum(revenue[r.key].value for r in catalog.REGIONS)
    assert regions == pytest.approx(revenue[catalog.COMPANY_KEY].value, rel=1e-3)
    # Countries pass their plans to their business units by last year's share.
    assert revenue["de"].allocation is TargetAllocation.SHARE
    # Ratios are planned once, for the group, and passed down as they are.
    conversion = [p for p in plans if p.kpi == "conversion_rate" and p.period == month]
    assert [(p.unit, p.allocation) for p in conversion] == [("group", TargetAllocation.EQUAL)]
