"""An executive's path through the dashboard in a real browser: Overview → KPI → Events.

What only a browser shows: the pages render and update from their callbacks, Plotly and
ag-grid draw under the CSP, tooltips open, links and chart clicks navigate, and the console
stays free of CSP refusals and errors.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.select import Select

from ingest.demo.catalog import KPIS
from models.queries.masking import MASK

from .browser import Browser
from .world import GLOBAL_EXECUTIVE, PASSWORD, REGIONAL_EXECUTIVE, World

pytestmark = pytest.mark.e2e

EMEA_COUNTRIES = ["France", "Germany", "Spain", "United Kingdom"]
REGIONS = ["Americas", "Asia-Pacific", "EMEA"]
EMEA_UNIT_KEYS = ("de-", "fr-", "gb-", "es-")
STATUS_TEXT = re.compile(r"[✔⚠✖○] (On target|Warning|Critical|No target|No data)")
LINEAGE_CARD = (
    "//div[contains(@class, 'card-header')][normalize-space() = 'Definition and lineage']/.."
)
GRID = "#overview-grid"
CAPTION = f"{GRID} p.text-secondary"


def wait_tiles(
    browser: Browser,
    caption_start: str,
    world: World,
    unit: str,
    period: str,
    email: str = REGIONAL_EXECUTIVE,
) -> None:
    """Wait until the grid shows ``caption_start``, then check the tiles show the values
    ``email`` may see, stored as of the minute the caption says they were computed in."""
    checked = ("revenue", "orders")

    def snapshot() -> tuple[str, list[str]] | None:
        caption = str(browser.text_of(CAPTION))
        if not caption.startswith(caption_start):
            return None
        values = [browser.text_of(f"#tile-{kpi} .fs-3") for kpi in checked]
        # The same render throughout (a live refresh may redraw the grid meanwhile).
        return (caption, values) if browser.text_of(CAPTION) == caption else None

    caption, values = browser.wait(snapshot, f"the tiles of {caption_start!r}")
    assert len(browser.find_all(f"{GRID} .kpi-tile")) == len(KPIS)
    computed = caption_minute(caption)
    expected = [world.tile_value(email, kpi, unit, period, computed) for kpi in checked]
    assert values == expected, (unit, period, caption)


def caption_minute(caption: str) -> dt.datetime:
    """The middle of the minute of "as of HH:MM UTC" in the caption (within the last day)."""
    found = re.search(r"as of (\d\d):(\d\d) UTC", caption)
    assert found, caption
    now = dt.datetime.now(dt.UTC)
    at = now.replace(hour=int(found[1]), minute=int(found[2]), second=30, microsecond=0)
    return at - dt.timedelta(days=1) if at > now + dt.timedelta(minutes=1) else at


def tooltip_text(browser: Browser, start: str = "") -> str | None:
    """The text of the tooltip on screen, if one is shown (and starts with ``start``)."""
    for tip in browser.find_all(".tooltip"):
        text = str(tip.text)
        if tip.is_displayed() and text and text.startswith(start):
            return text
    return None


def test_overview_tiles_follow_period_and_scope(browser: Browser, world: World) -> None:
    browser.sign_in(REGIONAL_EXECUTIVE, PASSWORD)
    wait_tiles(browser, "Today · EMEA", world, "emea", "today")
    browser.shot("overview-today-emea")

    # Tiles show status as icon and word, and the quality badge as icon and word.
    for kpi in KPIS:
        assert STATUS_TEXT.fullmatch(browser.text_of(f"#tile-{kpi.key} .tile-status"))
    assert browser.text_of("#quality-revenue") == "● Data OK"
    late = "#quality-support_resolution_time"
    assert browser.text_of(late) == "■ Data failing"

    # The reason opens on hover and on keyboard focus.
    ActionChains(browser.driver).move_to_element(browser.find("#quality-revenue")).perform()
    assert browser.wait(lambda: tooltip_text(browser), "the badge tooltip on hover") == (
        "Data is fresh and complete."
    )
    browser.shot("quality-tooltip-hover")
    ActionChains(browser.driver).move_by_offset(0, 300).perform()
    browser.driver.execute_script("arguments[0].focus()", browser.find(late))
    reason = browser.wait(
        lambda: tooltip_text(browser, "Support tickets"), "the failing badge's tooltip on focus"
    )
    assert re.fullmatch(
        r"Support tickets: newest event is .+ old \(freshness SLA 30 min\)", reason
    ), reason
    browser.shot("quality-tooltip-focus", guide="executive-quality-reason")

    # Only the executive's own subtree is offered.
    unit_select = Select(browser.find("#overview-unit"))
    offered = [o.text.strip() for o in unit_select.options if o.get_attribute("value")]
    assert offered[0] == "EMEA"
    assert sorted(offered[1:]) == EMEA_COUNTRIES

    period_labels = browser.find_all("#overview-period label")
    next(label for label in period_labels if label.text == "Last 7 days").click()
    wait_tiles(browser, "Last 7 days · EMEA", world, "emea", "7d")
    browser.shot("overview-7d-emea", guide="executive-period-and-unit")

    unit_select.select_by_value("de")
    wait_tiles(browser, "Last 7 days · Germany", world, "de", "7d")
    browser.shot("overview-7d-germany")
    browser.assert_clean_console()


def breadcrumb(browser: Browser) -> list[str]:
    return [item.text for item in browser.find_all("#kpi-body .breadcrumb-item")]


def wait_kpi_page(browser: Browser, title: str) -> None:
    """Wait for the KPI page's body: heading, summary, Plotly trend and breakdown drawn."""
    browser.wait_text("#kpi-body h1", title, "the KPI page heading")
    browser.element("#kpi-body .kpi-trend .main-svg .scatterlayer .trace", "the trend's lines")
    browser.element("#kpi-breakdown-graph .main-svg .barlayer .point", "the breakdown's bars")


def click_bar(browser: Browser, unit_key: str) -> None:
    """Click the breakdown bar of ``unit_key`` as a mouse would (Plotly needs hover first)."""
    index = browser.driver.execute_script(
        "const gd = document.querySelector('#kpi-breakdown-graph .js-plotly-plot');"
        "return gd.data[0].customdata.map(String).indexOf(arguments[0]);",
        unit_key,
    )
    assert index >= 0, f"no bar for {unit_key}"
    bar = browser.find_all("#kpi-breakdown-graph .barlayer .point")[index]
    # Scrolled to the middle of the window first, as a user would: a bar at the page's lower
    # edge (where the data's order puts it at some hours) took no click.
    browser.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", bar)
    ActionChains(browser.driver).move_to_element(bar).pause(0.3).click().perform()


def go_down_by_bar(browser: Browser, unit_key: str, title: str) -> None:
    """Click ``unit_key``'s bar until its KPI page opens: a live refresh that redraws the
    chart between the hover and the click swallows the click (a user clicks again too)."""
    for _ in range(3):
        click_bar(browser, unit_key)
        try:
            browser.wait(lambda: browser.text_of("#kpi-body h1") == title or None, title, timeout=6)
        except AssertionError:
            continue
        wait_kpi_page(browser, title)
        return
    raise AssertionError(f"clicking the bar of {unit_key} never opened {title!r}")


def test_drill_down_from_tile_to_events(browser: Browser, world: World) -> None:
    # The global executive: Overview → KPI → one unit down (twice) → back up → its events.
    browser.sign_in(GLOBAL_EXECUTIVE, PASSWORD)
    wait_tiles(browser, "Today · Northstar Group", world, "group", "today", GLOBAL_EXECUTIVE)
    browser.shot("overview-today-group", guide="executive-overview")

    # A tile opens its KPI page: trend, breakdown, lineage and summary.
    browser.find("#tile-revenue h2 a").click()
    wait_kpi_page(browser, "Revenue · Northstar Group")
    assert browser.path() == "/kpi/revenue?unit=group&period=today"
    assert breadcrumb(browser) == ["Northstar Group"]
    assert browser.text_of("#kpi-summary").startswith("Revenue is ")
    lineage = browser.driver.find_element("xpath", LINEAGE_CARD).text
    assert "Formula: sum(orders.amount)" in lineage
    assert re.search(r"✓ ok\s*Orders \(orders\)", lineage), lineage
    assert "Fresh: newest event" in lineage
    assert sorted(child_names(browser)) == REGIONS
    browser.shot("kpi-revenue-group", guide="executive-kpi-page")

    # A bar goes one level down, and again; the breadcrumb goes back up.
    link = browser.driver.find_element("link text", "EMEA")  # the breakdown table's link
    # Below the fold Selenium reports the link as covered; a script click fires its handler.
    browser.driver.execute_script("arguments[0].click()", link)
    wait_kpi_page(browser, "Revenue · EMEA")
    assert breadcrumb(browser) == ["Northstar Group", "EMEA"]
    assert sorted(child_names(browser)) == EMEA_COUNTRIES
    browser.shot("kpi-revenue-emea")
    go_down_by_bar(browser, "de", "Revenue · Germany")
    assert breadcrumb(browser) == ["Northstar Group", "EMEA", "Germany"]
    assert "unit=de" in browser.path()
    browser.shot("kpi-revenue-germany", guide="executive-drill-down")
    browser.driver.find_element("link text", "EMEA").click()
    wait_kpi_page(browser, "Revenue · EMEA")
    browser.shot("kpi-revenue-back-to-emea")

    # The events behind the number.
    browser.driver.find_element("link text", "See the events behind this number →").click()
    browser.wait(lambda: browser.path().startswith("/events?"), "the events page")
    check_events_page(browser)
    browser.shot("events-revenue-emea", guide="executive-events")
    browser.assert_clean_console()

    browser.find("#ns-sign-out").click()
    browser.wait(lambda: browser.path().startswith("/login"), "the sign-in page")
    browser.shot("signed-out")


def test_regional_executive_sees_only_her_region(browser: Browser, world: World) -> None:
    browser.sign_in(REGIONAL_EXECUTIVE, PASSWORD)
    wait_tiles(browser, "Today · EMEA", world, "emea", "today")
    browser.find("#tile-revenue h2 a").click()
    wait_kpi_page(browser, "Revenue · EMEA")
    assert breadcrumb(browser) == ["EMEA"]  # never above her scope
    assert sorted(child_names(browser)) == EMEA_COUNTRIES
    browser.shot("kpi-revenue-emea-regional")

    # The group's page, asked for by address, shows nothing of the group.
    browser.open("/kpi/revenue?unit=group&period=today")
    refusal = browser.wait_text(
        "#kpi-body", re.compile(r"Not allowed.*", re.S), "the refusal of the group's page"
    )
    assert "Northstar Group" not in refusal
    browser.shot("kpi-revenue-group-refused", guide="executive-out-of-scope")
    browser.assert_clean_console()


def child_names(browser: Browser) -> list[str]:
    return [c.text for c in browser.find_all("#kpi-body table tbody tr td:first-child")]


def check_events_page(browser: Browser) -> None:
    """The grid shows EMEA's events newest first, and personal data masked for an executive
    (no pii:view)."""
    browser.wait_text(
        "#events-status",
        re.compile(r"(?=.*newest first).*behind Revenue for EMEA, today\b.*"),
        "the events status line",
    )
    times = column_texts(browser, grid_column(browser, "Time"))
    assert times == sorted(times, reverse=True), f"not newest first: {times}"
    newest = dt.datetime.fromisoformat(times[0])
    assert dt.datetime.now(dt.UTC) - newest < dt.timedelta(minutes=5), times[0]
    units = column_texts(browser, grid_column(browser, "Unit"))
    assert all(u.startswith(EMEA_UNIT_KEYS) for u in units), units
    emails = column_texts(browser, grid_column(browser, "customer_email"))
    assert set(emails) == {MASK}, emails
    assert "@" not in browser.text_of("#events-grid")


def column_texts(browser: Browser, column: str) -> list[str]:
    """The texts of the rendered cells of ``column`` in row order (ag-grid's DOM order is
    not the display order), once there are some and all are filled."""

    def texts() -> list[str] | None:
        rows = browser.find_all("#events-grid .ag-row[row-index]")
        cells: dict[int, str] = {}
        for row in rows:
            for cell in row.find_elements("css selector", f".ag-cell[col-id='{column}']"):
                cells[int(str(row.get_attribute("row-index")))] = str(cell.text)
        found = [cells[i] for i in sorted(cells)]
        return found if found and all(found) else None

    return browser.wait(texts, f"the cells of column {column}")


def grid_column(browser: Browser, header: str) -> str:
    """The id of the events grid's column whose header starts with ``header``, scrolled into
    view (ag-grid renders only the columns in view)."""
    column = browser.wait(
        lambda: browser.driver.execute_script(
            "const api = dash_ag_grid.getApi('events-grid');"
            "const found = api.getColumns().find("
            "  c => (c.getColDef().headerName || '').startsWith(arguments[0]));"
            "if (!found) return null;"
            "api.ensureColumnVisible(found);"
            "return found.getColId();",
            header,
        ),
        f"the {header} column",
    )
    return str(column)
