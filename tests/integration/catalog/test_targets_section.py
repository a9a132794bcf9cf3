"""The ``targets`` section: target plans declared in the catalogue file, applied through
``models.targets`` (audited, idempotent), refused with the entry and field named, and exported."""

from __future__ import annotations

from conftest import truncate_all
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from models.catalog_file import export_catalog
from models.catalog_file.targets import fiscal_year

from .support import CATALOG, add_user, apply_text, plan_text, refused

TARGETS = """
targets:
  - {kpi: revenue, unit: acme, grain: year, period: "2026", value: 1200000, allocation: share}
  - {kpi: revenue, unit: east, grain: month, period: 2026-01, value: 50000,
     warn_pct: 95, crit_pct: 85}
  - {kpi: revenue, unit: west, grain: quarter, period: 2026-Q1, value: 140000}
"""


def _plans(engine: Engine) -> list[tuple[str, str, str, float, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT u.key, p.grain::text, p.period_start::text, p.value, p.allocation::text "
                "FROM target_plans p JOIN org_units u ON u.id = p.org_unit_id ORDER BY u.key"
            )
        )
        return [(r[0], r[1], r[2], float(r[3]), r[4]) for r in rows]


def test_plans_are_applied_once_and_audited(db: Engine) -> None:
    add_user(db)
    changes = apply_text(db, CATALOG + TARGETS)
    assert [c.key for c in changes if c.section == "targets"] == [
        "revenue/acme/year/FY2026",
        "revenue/east/month/2026-01",
        "revenue/west/quarter/2026-Q1",
    ]
    assert _plans(db) == [
        ("acme", "year", "2026-01-01", 1_200_000.0, "share"),
        ("east", "month", "2026-01-01", 50_000.0, "explicit"),
        ("west", "quarter", "2026-01-01", 140_000.0, "explicit"),
    ]
    with db.connect() as connection:
        audited = connection.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'target_plan.create'")
        ).scalar_one()
    assert audited == 3
    assert plan_text(db, CATALOG + TARGETS) == []  # idempotent
    # The same quarter named by its first day is the same plan: an update, not a second plan.
    moved = TARGETS.replace("period: 2026-Q1, value: 140000", "period: 2026-01-01, value: 150000")
    (change,) = [c for c in apply_text(db, CATALOG + moved) if c.section == "targets"]
    assert change.key == "revenue/west/quarter/2026-Q1"
    assert [(f.field, f.before, f.after) for f in change.fields] == [("value", 140000.0, 150000.0)]


def test_a_plan_naming_an_unknown_kpi_unit_or_period_is_refused(db: Engine) -> None:
    add_user(db)
    bad = """
targets:
  - {kpi: profit, unit: acme, grain: month, period: 2026-01, value: 1}
  - {kpi: revenue, unit: north, grain: month, period: 2026-01, value: 1}
  - {kpi: revenue, unit: acme, grain: quarter, period: 2026-Q5, value: 1}
  - {kpi: revenue, unit: acme, grain: week, period: 2026-01, value: 1}
"""
    problems = refused(db, CATALOG + bad)
    assert any("targets[0]" in p and "kpi: unknown KPI 'profit'" in p for p in problems)
    assert any("targets[1]" in p and "unit: unknown org unit 'north'" in p for p in problems)
    assert any("targets[2]" in p and "period" in p for p in problems)
    assert any("targets[3]" in p and "grain" in p for p in problems)
    assert _plans(db) == []


def test_quarters_follow_the_fiscal_year_and_plans_round_trip(db: Engine) -> None:
    add_user(db)
    april = TARGETS.replace('period: "2026"', 'period: "FY2026"').replace("2026-Q1", "FY2026-Q1")
    with fiscal_year(4):
        apply_text(db, CATALOG + april)
        with Session(db) as session:
            exported = export_catalog(session)
    # With an April start, FY2026 began in April 2025, and so did its first quarter.
    assert ("west", "quarter", "2025-04-01", 140_000.0, "explicit") in _plans(db)
    assert "period: 2026-Q1" in exported  # the fiscal quarter
    truncate_all(db)
    add_user(db)
    with fiscal_year(4):
        apply_text(db, exported, "export.yaml")
        with Session(db) as session:
            assert export_catalog(session) == exported
