"""Migration 0013 carries each KPI's single target over into monthly plans of the top unit."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text

from integration.factories import admin_engine, migrate_to, scratch_database, storage_setting
from models.settings import Settings, StorageBackend


@pytest.fixture(scope="module")
def scratch(settings: Settings) -> Iterator[Engine]:
    with (
        admin_engine(settings) as admin,
        scratch_database(admin, "targets") as engine,
        storage_setting(StorageBackend.NATIVE),
    ):
        yield engine


def _old_catalogue(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO org_units (id, key, name, level, path) VALUES "
                "(1, 'group', 'Group', 'company', '1'), (2, 'emea', 'EMEA', 'region', '1.2')"
            )
        )
        connection.execute(text("UPDATE org_units SET parent_id = 1 WHERE id = 2"))
        connection.execute(
            text(
                "INSERT INTO kpis (key, name, owner_unit_id, formula, direction, target, "
                "warn_threshold, crit_threshold) VALUES "
                "('revenue', 'Revenue', 1, 'sum(orders.amount)', 'higher_is_better', "
                "38000, 33000, 29000), "
                "('resolution', 'Resolution', 1, 'avg(tickets.minutes)', 'lower_is_better', "
                "240, 300, NULL), "
                "('untargeted', 'Untargeted', 1, 'count(orders)', 'higher_is_better', "
                "NULL, NULL, NULL)"
            )
        )


def test_old_targets_become_monthly_plans_and_survive_a_downgrade(scratch: Engine) -> None:
    migrate_to(scratch, "0010")
    _old_catalogue(scratch)
    migrate_to(scratch, "0013")
    year = dt.datetime.now(dt.UTC).year
    with scratch.connect() as connection:
        plans = connection.execute(
            text(
                "SELECT k.key, u.key, p.grain, p.period_start, p.value, p.allocation "
                "FROM target_plans p JOIN kpis k ON k.id = p.kpi_id "
                "JOIN org_units u ON u.id = p.org_unit_id ORDER BY 1, 4"
            )
        ).all()
        levels = dict(
            connection.execute(
                text("SELECT key, (target_warn_pct, target_crit_pct)::text FROM kpis")
            ).all()
        )
    revenue = [p for p in plans if p[0] == "revenue"]
    assert [p[3] for p in revenue] == [dt.date(year, m, 1) for m in range(1, 13)]
    assert {(p[1], p[2], p[5]) for p in plans} == {("group", "month", "explicit")}  # top only
    # Revenue is additive: the daily target times the month's days; resolution is an average.
    assert revenue[1][4] == 38_000.0 * calendar.monthrange(year, 2)[1]
    assert {p[4] for p in plans if p[0] == "resolution"} == {240.0}
    assert "untargeted" not in {p[0] for p in plans}
    assert levels == {"revenue": "(86.84,76.32)", "resolution": "(125,)", "untargeted": "(,)"}

    migrate_to(scratch, "0010", down=True)
    assert "target_plans" not in inspect(scratch).get_table_names()
    with scratch.connect() as connection:
        kept = connection.execute(text("SELECT key, target FROM kpis ORDER BY key")).all()
    assert kept == [("resolution", 240.0), ("revenue", 38_000.0), ("untargeted", None)]
    migrate_to(scratch, "head")
