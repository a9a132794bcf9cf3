"""The Overview and the KPI page judge each unit against its own target, and say which."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
import redis
from flask import Flask
from sqlalchemy import Engine

from dashboard.app import create_app
from dashboard.cache.answers import CallCache
from dashboard.executive import kpi_head
from dashboard.executive.kpi_data import KpiRequest, load_page
from dashboard.executive.selectors import PERIODS
from dashboard.executive.summary import PeriodChoice
from dashboard.executive.tiles import TileData
from models.enums import TargetAllocation, TargetGrain
from models.judging import Status
from models.queries.common import DEFAULT_LIMITS
from models.queries.executive.definitions import load_kpis
from models.queries.scope import resolve_unit
from models.settings import Settings
from models.target_periods import add_months
from models.targets import TargetPlanSpec

from .support import apply, principal, seed_org, write_orders

MONTH = TargetGrain.MONTH


@pytest.fixture
def app(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[Flask]:
    made = create_app(settings)
    yield made
    made.extensions["northstar"].close()


def months_around(now: dt.datetime) -> list[str]:
    """This month and the two before (the last 30 days may start in either)."""
    this = now.date().replace(day=1)
    return [f"{add_months(this, -back):%Y-%m}" for back in (2, 1, 0)]


def plans(now: dt.datetime) -> list[TargetPlanSpec]:
    """The group's own big plan (not passed down), EMEA's own small one, none for Americas."""
    return [
        TargetPlanSpec("revenue", unit, MONTH, month, value, TargetAllocation.EXPLICIT)
        for month in months_around(now)
        for unit, value in (("group", 10_000_000.0), ("emea", 3_100.0))
    ]


def tiles_of(app: Flask, engine: Engine, unit_key: str, now: dt.datetime) -> dict[str, TileData]:
    overview: ModuleType = sys.modules["dashboard.executive.pages.overview"]
    who = principal(engine, "group")
    with app.app_context(), engine.connect() as connection:
        unit = resolve_unit(connection, who, unit_key)
        kpis = [k for k in load_kpis(connection, who) if k.key == "revenue"]
        cache = CallCache(None, who)
        tiles = overview.overview_tiles(lambda: connection, cache, kpis, unit, PERIODS["30d"], now)
    return {t.key: t for t in tiles}


def test_a_region_is_judged_against_its_own_target_not_the_groups(app: Flask, db: Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    units, sources = seed_org(db)
    apply(db, plans(now))
    write_orders(db, sources, units["de"], now - dt.timedelta(hours=2), [2_000.0, 1_500.0])

    emea = tiles_of(app, db, "emea", now)["revenue"]
    # 3,500 EUR in 30 days against EMEA's own ~3,100 a month: on target. Against the group's
    # 10 million it would be critical.
    assert emea.status is Status.ON_TARGET
    assert emea.judgement.explanation == "EMEA's own monthly plan, pro-rated"
    assert emea.judgement.target is not None
    assert 2_900.0 < emea.judgement.target < 3_300.0
    group = tiles_of(app, db, "group", now)["revenue"]
    assert group.status is Status.CRITICAL
    assert group.judgement.explanation == "Northstar Group's own monthly plan, pro-rated"


def test_a_unit_without_target_shows_no_status_and_says_why(app: Flask, db: Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    units, sources = seed_org(db)
    apply(db, plans(now))
    write_orders(db, sources, units["amer"], now - dt.timedelta(hours=2), [2_000.0])

    amer = tiles_of(app, db, "amer", now)["revenue"]
    assert amer.status is Status.NO_TARGET
    assert amer.judgement.target is None
    assert "Americas has no plan for" in amer.judgement.explanation
    assert "not passed down" in amer.judgement.explanation


def test_the_kpi_page_says_which_target_it_judged_against(app: Flask, db: Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    units, sources = seed_org(db)
    apply(db, plans(now))
    write_orders(db, sources, units["de"], now - dt.timedelta(hours=2), [2_000.0, 1_500.0])
    who = principal(db, "emea")
    request = KpiRequest("revenue", "emea", PeriodChoice.LAST_30_DAYS, None)
    with app.app_context(), db.connect() as connection:
        data = load_page(lambda: connection, CallCache(None, who), request, now, DEFAULT_LIMITS)
        asked = KpiRequest("revenue", "de", PeriodChoice.LAST_30_DAYS, None)
        germany = load_page(lambda: connection, CallCache(None, who), asked, now, DEFAULT_LIMITS)
    text = kpi_head.page_summary(data, PeriodChoice.LAST_30_DAYS, now)
    assert "It meets its target of " in text
    assert "(EMEA's own monthly plan, pro-rated)." in text
    # Germany has no plan and EMEA's is explicit: no verdict, and why.
    other = kpi_head.page_summary(germany, PeriodChoice.LAST_30_DAYS, now)
    assert "It has no target here: Germany has no plan for" in other
    assert "meets" not in other
