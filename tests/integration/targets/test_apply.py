"""Applying and exporting target plans: idempotent, audited, all or nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.enums import TargetAllocation, TargetGrain
from models.targets import TargetPlan, TargetPlanError, TargetPlanSpec, export_target_plans

from .support import apply, audit_rows, plan_count, seed_org

MONTH, QUARTER, YEAR = TargetGrain.MONTH, TargetGrain.QUARTER, TargetGrain.YEAR
SPECS = [
    TargetPlanSpec("revenue", "group", MONTH, "2026-03", 90_000.0, TargetAllocation.SHARE),
    TargetPlanSpec("revenue", "emea", QUARTER, "2026-Q1", 100_000.0, warn_pct=90.0, crit_pct=80.0),
    TargetPlanSpec("resolution", "group", YEAR, "FY2026", 240.0, warn_pct=110.0, crit_pct=125.0),
]


@pytest.fixture
def org(db: Engine) -> Engine:
    seed_org(db)
    return db


def test_applying_twice_changes_nothing_the_second_time(org: Engine) -> None:
    first = apply(org, SPECS)
    assert [(c.action, c.kpi, c.unit) for c in first] == [
        ("created", "revenue", "group"), ("created", "revenue", "emea"),
        ("created", "resolution", "group"),
    ]  # fmt: skip
    audited = audit_rows(org)
    assert [a.action for a in audited] == ["target_plan.create"] * 3
    assert audited[1].target_id == "revenue/emea/quarter/2026-01-01"
    assert audited[1].after == {"value": 100_000.0, "allocation": "explicit", "warn_pct": 90.0,
                                "crit_pct": 80.0}  # fmt: skip

    assert apply(org, SPECS) == []
    assert len(audit_rows(org)) == 3
    assert plan_count(org) == 3


def test_a_changed_value_is_one_audited_update_with_before_and_after(org: Engine) -> None:
    apply(org, SPECS)
    changed = TargetPlanSpec("revenue", "group", MONTH, "2026-03", 95_000.0, TargetAllocation.EQUAL)
    [change] = apply(org, [changed, *SPECS[1:]])
    assert (change.action, change.before, change.after) == (
        "updated",
        {"value": 90_000.0, "allocation": TargetAllocation.SHARE},
        {"value": 95_000.0, "allocation": TargetAllocation.EQUAL},
    )
    update = audit_rows(org)[-1]
    assert update.action == "target_plan.update"
    assert update.before == {"value": 90_000.0, "allocation": "share"}
    assert update.after == {"value": 95_000.0, "allocation": "equal"}
    assert update.actor == "system:tests"


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (TargetPlanSpec("revenue", "mars", MONTH, "2026-03", 1.0), "no org unit with key 'mars'"),
        (TargetPlanSpec("profit", "group", MONTH, "2026-03", 1.0), "no KPI with key 'profit'"),
        (TargetPlanSpec("revenue", "group", MONTH, "2026-Q1", 1.0), "not a month key"),
        (TargetPlanSpec("revenue", "group", MONTH, "2026-04", float("nan")), "finite"),
        (TargetPlanSpec("revenue", "group", MONTH, "2026-04", 1.0, warn_pct=105.0),
         "higher is better, so warn_pct must be at most 100"),
        (TargetPlanSpec("resolution", "group", MONTH, "2026-04", 1.0, crit_pct=90.0),
         "lower is better, so crit_pct must be at least 100"),
        (TargetPlanSpec("revenue", "group", MONTH, "2026-04", 1.0, warn_pct=80.0, crit_pct=90.0),
         "crit_pct must lie beyond warn_pct"),
        (SPECS[0], "given twice"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_the_reason_and_changes_nothing(
    org: Engine, bad: TargetPlanSpec, says: str
) -> None:
    with pytest.raises(TargetPlanError, match=says):
        apply(org, [*SPECS, bad])
    assert plan_count(org) == 0
    assert audit_rows(org) == []


def test_fiscal_keys_are_stored_as_first_days_and_exported_as_keys(org: Engine) -> None:
    april = [
        TargetPlanSpec("revenue", "emea", QUARTER, "2026-Q1", 100.0),
        TargetPlanSpec("revenue", "emea", YEAR, "FY2026", 400.0, TargetAllocation.EQUAL),
    ]
    apply(org, april, fiscal_start_month=4)
    with Session(org) as session:
        starts = sorted(session.scalars(select(TargetPlan.period_start)))
        assert starts == [dt.date(2025, 4, 1), dt.date(2025, 4, 1)]
        exported = export_target_plans(session, fiscal_start_month=4)
        by_calendar = export_target_plans(session, fiscal_start_month=1)
    assert exported == april
    # Under calendar years the quarter is Q2 of 2025; the year does not line up with a
    # calendar year, so it is kept by its first day.
    assert [s.period for s in by_calendar] == ["2025-Q2", "2025-04-01"]
    assert apply(org, exported, fiscal_start_month=4) == []
    assert apply(org, by_calendar, fiscal_start_month=1) == []
