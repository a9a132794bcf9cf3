"""The KPI page: its callback as a plain function (the world is ``kpi_support``'s)."""

from __future__ import annotations

import re

import pytest
from dash import no_update
from sqlalchemy import text

from integration.executive.kpi_support import (
    GLOBAL,
    REGIONAL,
    World,
    alert_text,
    dump,
    find,
    kpi_view,
    world,
)

__all__ = ["world"]  # fixture


# --- plain-function calls -------------------------------------------------------------------


def test_the_page_shows_value_summary_trend_breakdown_and_lineage(world: World) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "revenue", "unit": None})
    text_ = dump(page)
    summary = find(page, "kpi-summary").children
    # The 7 days end at the current minute's end: the pro-rated target is 3,500 EUR and at
    # most a minute's 0.35 EUR more.
    before, target, after = re.fullmatch(r"(.*) of ([0-9,.]+) EUR (\(.*)", summary).groups()
    assert before == (
        "Revenue is up 105.0 % on the previous 7 days at 410.00 EUR, led by UNIT2 "
        "(an improvement). It misses its target"
    )
    assert 3500.0 <= float(target.replace(",", "")) <= 3500.35
    assert after == "(ACME's own yearly plan, pro-rated). Data is fresh and complete."
    trend = find(page, "kpi-breakdown-graph")
    assert trend is not None
    assert "This period" in text_
    assert "Previous period" in text_
    assert '"dash": "dash"' in text_
    assert "Target" in text_
    assert "UNIT2" in text_
    assert "UNIT3" in text_
    assert "sum(orders.amount)" in text_
    assert "Money taken by orders." in text_
    assert "Fresh: newest event" in text_
    assert "/events?kpi=revenue&unit=acme&period=7d" in text_
    assert "/kpi/revenue?unit=unit2&period=7d" in text_


def test_a_regional_executive_asking_for_another_region_gets_a_clean_refusal(
    world: World,
) -> None:
    with world.signed_in(REGIONAL):
        for unit in ("unit3", "acme", "no-such-unit", "unit2' OR '1'='1"):
            page = kpi_view({"kpi": "revenue", "unit": unit})
            assert alert_text(page) == "Not allowed: no such org unit in your scope.", unit
            assert "UNIT3" not in dump(page)


def test_a_regional_executive_starts_at_their_region_and_never_sees_above_it(
    world: World,
) -> None:
    with world.signed_in(REGIONAL):
        page = kpi_view({"kpi": "revenue"})
        country = kpi_view({"kpi": "revenue", "unit": "unit2-de"})
    text_ = dump(page)
    assert "Revenue · UNIT2" in text_
    assert "UNIT3" not in text_
    assert '"label": "ACME"' not in text_  # the breadcrumb starts at the scope root
    assert "300.00 EUR" in text_  # only the region's own events
    crumbs = dump(country)
    assert '"label": "UNIT2", "href": "/kpi/revenue?unit=unit2&period=7d"' in crumbs
    assert '"label": "ACME"' not in crumbs


def test_drilling_down_gives_a_breadcrumb_back_to_the_scope_root(world: World) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "revenue", "unit": "unit2-de"}, "30d")
    text_ = dump(page)
    assert '"label": "ACME", "href": "/kpi/revenue?unit=acme&period=30d"' in text_
    assert '"label": "UNIT2", "href": "/kpi/revenue?unit=unit2&period=30d"' in text_
    assert "This unit has no child units in your scope." in text_


@pytest.mark.parametrize(
    "key", ["no-such-kpi", "revenue' OR '1'='1", "revenue; DROP TABLE kpis; --", "%"]
)
def test_a_forged_kpi_key_gets_a_clean_error(world: World, key: str) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": key})
    assert alert_text(page) == "Invalid input: there is no KPI with that key."
    with world.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM kpis")).scalar() == 2


@pytest.mark.parametrize(
    ("params", "period", "granularity", "message"),
    [
        ("revenue", "7d", "auto", "the page parameters are malformed"),
        ({"kpi": ["revenue"]}, "7d", "auto", "a KPI must be given by its key"),
        ({"kpi": "x" * 101}, "7d", "auto", "a KPI key must be 1 to 100 printable characters"),
        ({"kpi": "revenue", "unit": 3}, "7d", "auto", "a unit must be given by its key"),
        ({"kpi": "revenue"}, "forever", "auto", "period must be one of 1h, today, 7d, 30d"),
        ({"kpi": "revenue"}, "7d", "second", "granularity must be auto, minute, hour or day"),
        ({"kpi": "revenue"}, 7, "auto", "period must be one of 1h, today, 7d, 30d"),
    ],
)
def test_wrong_types_and_values_get_a_specific_message(
    world: World, params: object, period: object, granularity: object, message: str
) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view(params, period, granularity)
    assert alert_text(page) == f"Invalid input: {message}."


def test_too_fine_a_granularity_for_the_period_is_refused_with_advice(world: World) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "revenue"}, "30d", "minute")
    assert "choose a coarser granularity or a shorter period" in alert_text(page)
    with world.signed_in(GLOBAL):
        hourly = kpi_view({"kpi": "revenue"}, "1h", "hour")
    assert "One point per hour (as chosen)" in dump(hourly)


def test_refusals_are_written_to_the_access_log(world: World) -> None:
    with world.signed_in(REGIONAL):
        kpi_view({"kpi": "revenue", "unit": "unit3"})
        kpi_view({"kpi": "revenue"})
    with world.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT outcome, rows FROM access_log WHERE page = 'kpi' ORDER BY id")
        ).all()
    assert [r[0] for r in rows] == ["denied", "ok"]
    assert rows[1][1] > 0


def test_a_late_source_shows_its_badge_and_the_summary_warns(world: World) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "load"})
    text_ = dump(page)
    summary = find(page, "kpi-summary").children
    assert "Take care with the data:" in summary
    assert "Tickets" in summary
    assert "✓ ok" in text_  # orders: an event a minute ago
    assert "✗ failing" in text_  # tickets: 3 h old, SLA 5 min: stale is failing
    assert "Late: newest event 3 h ago (SLA 5 min)" in text_


def test_clicking_a_bar_opens_that_unit_one_level_down(world: World) -> None:
    from dashboard.executive.pages import kpi

    params = {"kpi": "revenue", "unit": None}
    with world.signed_in(GLOBAL):
        opened = kpi.open_clicked_unit({"points": [{"customdata": "unit2"}]}, params, "30d")
        forged = kpi.open_clicked_unit({"points": [{"customdata": ["x"]}]}, params, "30d")
        empty = kpi.open_clicked_unit({"points": []}, params, "30d")
    assert opened == "/kpi/revenue?unit=unit2&period=30d"
    assert forged is no_update
    assert empty is no_update
