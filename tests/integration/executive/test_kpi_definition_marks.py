"""The KPI page says, and marks on its trend, when the KPI's definition changed in the period."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from integration.executive.kpi_support import GLOBAL, NOW, World, dump, find, kpi_view, world

__all__ = ["world"]  # fixture

CHANGED_AT = NOW - dt.timedelta(days=3)


def _versions(world: World) -> None:
    """Revenue's first definition 40 days ago, its current one (a new formula) 3 days ago."""
    with world.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO kpi_versions (kpi_id, version, formula, unit, format, direction, "
                "actor, comment, created_at) SELECT id, v, f, 'EUR', ',.2f', "
                "'higher_is_better', 'ada', c, at FROM kpis, (VALUES "
                "(1, 'count(orders.count)', '', CAST(:first AS timestamptz)), "
                "(2, 'sum(orders.amount)', 'count was the wrong measure', "
                "CAST(:second AS timestamptz))) AS v(v, f, c, at) WHERE key = 'revenue'"
            ),
            {"first": NOW - dt.timedelta(days=40), "second": CHANGED_AT},
        )


def _marks(page: object) -> list[str]:
    figure = find(page, "kpi-trend-graph").figure
    return [a["text"] for a in figure["layout"].get("annotations", [])]


def test_a_change_in_the_period_is_said_in_the_header_and_marked_on_the_trend(
    world: World,
) -> None:
    _versions(world)
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "revenue", "unit": None}, "7d")
    note = dump(find(page, "kpi-definition-changes"))
    day = f"{CHANGED_AT.day} {CHANGED_AT:%b}"
    assert (
        f"Definition changed on {day}: formula count(orders.count) → sum(orders.amount) "
        "(count was the wrong measure)." in note
    )
    assert "Definition v2" in _marks(page)


def test_a_change_before_the_period_is_neither_said_nor_marked(world: World) -> None:
    _versions(world)
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "revenue", "unit": None}, "1h")
    assert find(page, "kpi-definition-changes") is None
    assert "Definition v2" not in _marks(page)
    assert "Definition changed" not in dump(page)
