"""Overview builders as plain functions: tiles, selectors, the sparkline and the quality grades."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dash.development.base_component import Component

from dashboard.executive import selectors, summary, tiles
from dashboard.executive.figures.sparkline import sparkline
from dashboard.executive.tiles import TileData
from models.enums import Direction, OrgLevel
from models.judging import Judgement, Status
from models.queries.scope import Unit
from models.queries.steward.quality import (
    Badge,
    QualityLevel,
    SourceFacts,
    grade_source,
    kpi_badge,
    worst,
)

NOW = dt.datetime(2026, 3, 2, 12, 30, 20, tzinfo=dt.UTC)
PLAN = "EMEA's own monthly plan, pro-rated"


def texts(node: Any) -> list[str]:
    """Every string a component tree shows or attaches (children, title, aria-label)."""
    if node is None:
        return []
    if isinstance(node, str | int | float):
        return [str(node)]
    if isinstance(node, list | tuple):
        return [t for child in node for t in texts(child)]
    assert isinstance(node, Component)
    found = [str(getattr(node, a)) for a in ("title", "aria-label") if getattr(node, a, None)]
    found += [str(v) for k, v in node.to_plotly_json()["props"].items() if k == "aria-label"]
    return found + texts(getattr(node, "children", None))


def facts(
    newest_age_s: float | None = 10, stored: int = 100, rejected: int = 0, sla_s: int = 300
) -> SourceFacts:
    newest = None if newest_age_s is None else NOW - dt.timedelta(seconds=newest_age_s)
    return SourceFacts(1, "Orders", sla_s, newest, stored, rejected)


def judged(status: Status) -> Judgement:
    return Judgement(status, 1100.0, 1000.0, 900.0, PLAN)


def data(**changes: Any) -> TileData:
    values: dict[str, Any] = {
        "key": "revenue",
        "name": "Revenue",
        "value": 1250.0,
        "previous": 1000.0,
        "unit": "EUR",
        "format": ",.0f",
        "direction": Direction.HIGHER_IS_BETTER,
        "judgement": judged(changes.pop("status", Status.ON_TARGET)),
        "times": (NOW, NOW + dt.timedelta(hours=1)),
        "values": (1.0, 2.0),
        "badge": Badge(QualityLevel.OK, ()),
        "href": "/kpi/revenue?unit=emea&period=today",
    }
    return TileData(**(values | changes))


def test_values_are_shown_in_the_kpis_format_and_unit() -> None:
    assert tiles.format_value(38123.4, ",.0f", "EUR") == "38,123 EUR"
    assert tiles.format_value(3.14159, ".2f", "%") == "3.14 %"
    assert tiles.format_value(7.0, ",.0f", "") == "7"
    assert tiles.format_value(None, ",.0f", "EUR") == "—"
    # A broken stored format still shows the number.
    assert tiles.format_value(2.5, "nonsense", "min") == "2.50 min"


def test_change_arrow_and_colour_follow_the_kpis_direction() -> None:
    up = tiles.change(110.0, 100.0, Direction.HIGHER_IS_BETTER)
    assert (up.arrow, up.text, up.good) == ("▲", "+10.0 %", True)
    worse = tiles.change(110.0, 100.0, Direction.LOWER_IS_BETTER)
    assert (worse.arrow, worse.good) == ("▲", False)
    down = tiles.change(90.0, 100.0, Direction.LOWER_IS_BETTER)
    assert (down.arrow, down.text, down.good) == ("▼", "-10.0 %", True)
    assert tiles.change(5.0, None, Direction.HIGHER_IS_BETTER).text == "no comparison"
    assert tiles.change(5.0, 5.0, Direction.HIGHER_IS_BETTER).good is None
    assert tiles.change(5.0, 0.0, Direction.HIGHER_IS_BETTER).text == "new"


def test_a_tile_says_which_target_it_was_judged_against() -> None:
    shown = " ".join(texts(tiles.tile(data())))
    assert f"Target 1,100 EUR ({PLAN})" in shown


def test_a_tile_without_target_says_why_and_shows_no_status_colour() -> None:
    none = Judgement(Status.NO_TARGET, None, None, None, "EMEA has no plan for March 2026")
    card = tiles.tile(data(judgement=none))
    shown = " ".join(texts(card))
    assert "No target: EMEA has no plan for March 2026" in shown
    assert "No target" in shown
    assert "On target" not in shown
    assert "text-bg-secondary" in str(card.to_plotly_json())


@pytest.mark.parametrize("status", list(Status))
def test_status_is_shown_by_text_and_icon_as_well_as_colour(status: Status) -> None:
    shown = " ".join(texts(tiles.tile(data(status=status))))
    icon, _ = tiles.STATUS_LOOK[status]
    assert status.value.capitalize() in shown
    assert icon in shown


def test_a_tile_shows_name_value_change_and_links_to_the_kpi_page() -> None:
    card = tiles.tile(data())
    shown = " ".join(texts(card))
    assert "Revenue" in shown
    assert "1,250 EUR" in shown
    assert "▲ +25.0 %" in shown
    assert "Data OK" in shown
    links = [c for c in _walk(card) if type(c).__name__ == "Link"]
    assert [link.href for link in links] == ["/kpi/revenue?unit=emea&period=today"]


def test_the_quality_reason_is_on_the_badge() -> None:
    badge = Badge(QualityLevel.FAILING, ("Orders: newest event is 2 h old (freshness SLA 300 s)",))
    card = tiles.tile(data(badge=badge))
    shown = " ".join(texts(card))
    assert "Data failing" in shown
    assert "newest event is 2 h old" in shown
    tooltips = [c for c in _walk(card) if type(c).__name__ == "Tooltip"]
    assert [t.target for t in tooltips] == ["quality-revenue"]


def test_kpi_links_escape_keys() -> None:
    assert tiles.kpi_href("a/b", "de retail", "7d") == "/kpi/a%2Fb?unit=de+retail&period=7d"


def test_an_empty_grid_says_so() -> None:
    assert "No KPIs" in " ".join(texts(tiles.tile_grid([])))
    grid = tiles.tile_grid([data(), data(key="orders")])
    assert [c.id for c in _walk(grid) if _is_card(c)] == ["tile-revenue", "tile-orders"]


def test_periods_are_computed_on_the_server_from_a_key() -> None:
    hour = selectors.period_for(selectors.period_choice("1h"), NOW)
    assert hour.end == dt.datetime(2026, 3, 2, 12, 31, tzinfo=dt.UTC)  # the current minute counts
    assert hour.start <= NOW - dt.timedelta(hours=1)
    today = selectors.period_for(selectors.period_choice("today"), NOW)
    assert today.start == dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    month = selectors.period_for(selectors.period_choice("30d"), NOW)
    assert month.start <= NOW - dt.timedelta(days=30) < month.start + dt.timedelta(minutes=1)
    assert month.previous.end == month.start
    for forged in ("2026-01-01", "1h; DROP TABLE kpis", None, 7, ["1h"], {"key": "1h"}):
        with pytest.raises(ValueError, match="unknown period"):
            selectors.period_choice(forged)


def test_every_period_key_is_one_the_kpi_page_understands() -> None:
    # Tiles link to /kpi/<key>?period=<key>: the KPI page must read the same period.
    for choice in selectors.PERIOD_CHOICES:
        assert summary.parse_period_choice(choice.key).value == choice.key
        assert selectors.period_for(choice, NOW) == summary.period_for(
            summary.parse_period_choice(choice.key), NOW
        )


def test_scope_selector_offers_only_the_given_units_indented_by_level() -> None:
    units = [
        Unit(2, "emea", "EMEA", OrgLevel.REGION, 1, "1.2"),
        Unit(4, "de", "Germany", OrgLevel.COUNTRY, 2, "1.2.4"),
    ]
    select = selectors.scope_selector("unit", units, "emea").children[1]
    assert [o["value"] for o in select.options] == ["emea", "de"]
    assert select.options[1]["label"].endswith("Germany")
    assert select.options[1]["label"].startswith("\u2003\u2003")
    assert "No org units" in " ".join(texts(selectors.scope_selector("unit", [], None)))


def test_sparkline_is_a_static_line_without_axes() -> None:
    times = [NOW, NOW + dt.timedelta(minutes=1), NOW + dt.timedelta(minutes=2)]
    figure = sparkline(times, [1.0, None, 3.0])
    [line] = figure["data"]
    assert line["y"] == [1.0, None, 3.0]
    assert line["x"] == [t.isoformat() for t in times]
    assert line["connectgaps"] is False
    assert line["hoverinfo"] == "skip"
    assert figure["layout"]["xaxis"]["visible"] is False
    assert figure["layout"]["yaxis"]["visible"] is False
    assert "template" not in figure["layout"]  # a tile needs none: no kilobytes per tile


def test_a_stale_source_is_failing_with_its_age_and_sla() -> None:
    assert grade_source(facts(newest_age_s=60), NOW).level is QualityLevel.OK
    stale = grade_source(facts(newest_age_s=7200), NOW)
    assert stale.level is QualityLevel.FAILING
    assert stale.reason == "Orders: newest event is 2 h old (freshness SLA 5 min)"
    never = grade_source(facts(newest_age_s=None), NOW)
    assert never.level is QualityLevel.FAILING
    assert "no events" in never.reason


def test_a_high_rejected_share_warns_then_fails() -> None:
    assert grade_source(facts(stored=99, rejected=1), NOW).level is QualityLevel.OK
    warning = grade_source(facts(stored=95, rejected=5), NOW)
    assert warning.level is QualityLevel.WARNING
    assert "5.0% of records rejected in the last hour (5 of 100)" in warning.reason
    assert grade_source(facts(stored=80, rejected=20), NOW).level is QualityLevel.FAILING


def test_a_kpis_badge_is_the_worst_of_its_sources() -> None:
    sources = {1: facts(), 2: SourceFacts(2, "Sessions", 300, NOW, 90, 10)}
    badge = kpi_badge({1, 2}, sources, NOW)
    assert badge.level is QualityLevel.FAILING
    assert badge.reasons == ("Sessions: 10.0% of records rejected in the last hour (10 of 100)",)
    assert kpi_badge({1}, sources, NOW).reason == "Data is fresh and complete."
    assert worst([]).level is QualityLevel.OK


def _walk(node: Any) -> list[Component]:
    if isinstance(node, list | tuple):
        return [c for child in node for c in _walk(child)]
    if not isinstance(node, Component):
        return []
    return [node, *_walk(getattr(node, "children", None))]


def _is_card(component: Component) -> bool:
    return type(component).__name__ == "Card"
