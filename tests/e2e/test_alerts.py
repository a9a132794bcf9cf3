"""Alerts, reviews and the admin's source and log pages in a real browser.

- An admin (the only seeded role with ``alert:manage``) fills a rule on Revenue in the editor,
  previews the last 30 days (the sentence is recomputed through the same layers for the same
  minute), saves it and finds it in the rules list with its state.
- A rule fired by the evaluation the cron job runs opens a review: it is listed on /reviews
  and marked on the KPI page's trend; the admin decides it with a note, and the KPI page then
  shows the decision instead of the open review.
- The source admin page and the log viewer render under the CSP, and "Export CSV" downloads
  the access log.

The pages' clock is fixed (``alerts_world.Clock``); every test ends with the console check.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from sqlalchemy import text

from dashboard.shell import live
from models.alerts.spec import RuleSpec
from models.alerts.tables import AlertSeverity, Condition
from models.settings import Settings

from .alerts_world import (
    ADMIN,
    FIRING_RULE,
    FIRING_UNIT,
    Clock,
    add_admin,
    add_big_order,
    add_firing_rule,
    preview_text,
    run_evaluation,
)
from .browser import Browser
from .test_admin import tick
from .world import PASSWORD, World

pytestmark = pytest.mark.e2e

NEW_RULE = RuleSpec(
    name="Germany revenue surge",
    kpi_key="revenue",
    unit_key="de",
    condition=Condition.ABOVE,
    threshold=60.0,
    clear_threshold=45.0,
    for_s=300,
    window_s=3600,
    severity=AlertSeverity.CRITICAL,
)
"""What the admin types into the editor (Germany's revenue over the last hour)."""
MARKS = "#kpi-trend-graph .annotation-text"


@pytest.fixture
def clock(world: World, monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(dt.datetime.now(dt.UTC))
    monkeypatch.setattr(live, "utc_now", fixed)
    return fixed


@pytest.fixture
def admin(world: World) -> int:
    return add_admin(world)


def pick(browser: Browser, dropdown: str, name: str) -> None:
    """Choose ``name`` in a dcc.Dropdown as a person does (the unit list indents its names
    with "· ", which is not part of the name)."""
    browser.find(dropdown).click()
    option = browser.wait(
        lambda: next(
            (o for o in browser.find_all("[role=option]") if o.text.strip(" ·") == name), None
        ),
        f"the option {name}",
    )
    option.click()
    ActionChains(browser.driver).send_keys(Keys.ESCAPE).perform()
    browser.wait(lambda: not browser.find_all("[role=option]"), "the dropdown to close")


def press(browser: Browser, css: str) -> None:
    """Click the button ``css`` once scrolled to the middle of the window at once (Bootstrap
    scrolls smoothly, and a click during the scroll can land on something else)."""
    button = browser.find(css)
    browser.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button
    )
    button.click()


def type_into(browser: Browser, css: str, value: str) -> None:
    field = browser.find(css)
    field.clear()
    field.send_keys(value)


def test_an_admin_previews_and_saves_a_rule_that_then_shows_in_the_list(
    browser: Browser, world: World, clock: Clock, admin: int
) -> None:
    browser.sign_in(ADMIN, PASSWORD, "/alerts")
    browser.wait(lambda: "No alert rule" in browser.text_of("#alerts-table"), "the empty list")
    browser.find("a[href='/alerts/new']").click()
    browser.wait(lambda: browser.path() == "/alerts/new", "the editor")
    browser.element("#alert-name", "the rule form").send_keys(NEW_RULE.name)
    pick(browser, "#alert-kpi", "Revenue")
    pick(browser, "#alert-unit", "Germany")
    pick(browser, "#alert-condition", "Above a value")
    type_into(browser, "#alert-threshold", "60")
    type_into(browser, "#alert-clear", "45")
    type_into(browser, "#alert-for-min", "5")
    tick(browser, "#alert-severity", "Critical")
    assert "Not saved yet." in browser.text_of("#alert-state")
    browser.shot("rule-filled-in")

    press(browser, "#alert-preview")
    expected = preview_text(world, ADMIN, NEW_RULE, clock.now)
    browser.wait_text("#alert-preview-text", expected, "the 30-day preview")
    browser.wait(lambda: browser.find_all("#alert-preview-graph .scatterlayer"), "its chart")
    browser.shot("preview-shown", guide="alerts-rule-preview")

    press(browser, "#alert-save")
    browser.wait(lambda: re.fullmatch(r"/alerts/\d+", browser.path()), "the saved rule's page")
    rule_id = int(browser.path().rsplit("/", 1)[1])
    browser.wait(lambda: "✓ OK since" in browser.text_of("#alert-state"), "the new rule's state")
    browser.shot("rule-saved")
    with world.engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT r.name, k.key AS kpi, u.key AS unit, r.condition::text, r.threshold, "
                "r.clear_threshold, r.for_s, r.window_s, r.severity::text, r.owner_user_id "
                "FROM alert_rules r JOIN kpis k ON k.id = r.kpi_id "
                "JOIN org_units u ON u.id = r.org_unit_id WHERE r.id = :r"
            ),
            {"r": rule_id},
        ).one()
    assert tuple(stored) == (
        NEW_RULE.name,
        "revenue",
        "de",
        "above",
        60.0,
        45.0,
        300,
        3600,
        "critical",
        admin,
    )

    press(browser, "a.small[href='/alerts']")  # the editor's "← Alert rules"
    row = f"#alert-rule-{rule_id}"
    browser.wait(lambda: browser.find_all(row), "the rule in the list")
    shown = browser.text_of(row)
    assert NEW_RULE.name in shown
    assert "Revenue · Germany" in shown
    assert "✓ OK" in shown
    assert "Critical" in shown
    assert "Ada Alerts" in shown
    browser.shot("rule-listed")
    browser.assert_clean_console()


def kpi_strip(browser: Browser, heading: str) -> str:
    """The KPI page's review strip once it shows ``heading`` (over the last 7 days, so a
    decision stays in the period when the clock's minute crosses midnight)."""
    browser.open(f"/kpi/revenue?unit={FIRING_UNIT}&period=7d")

    def strip() -> str | None:
        shown = browser.text_of("#kpi-reviews")
        return shown if heading in shown else None

    return browser.wait(strip, f"the review strip's {heading!r}")


def trend_marks(browser: Browser) -> list[str]:
    return browser.wait(
        lambda: [m.text for m in browser.find_all(MARKS)] or None, "the trend's review marks"
    )


def test_a_fired_rule_opens_a_review_that_is_decided_and_shows_on_the_kpi_trend(
    browser: Browser, world: World, settings: Settings, clock: Clock, admin: int
) -> None:
    add_big_order(world, clock.now - dt.timedelta(minutes=10))
    rule = add_firing_rule(world, admin, clock.now - dt.timedelta(minutes=5))
    report = run_evaluation(world, settings, clock.now)
    assert len(report.reviews_opened) == 1, report.as_dict()
    review = report.reviews_opened[0]
    title = "Revenue above 1,000 EUR at EMEA"

    browser.sign_in(ADMIN, PASSWORD, "/reviews")
    row = f"#review-row-{review}"
    browser.wait(lambda: browser.find_all(row), "the review in the list")
    assert title in browser.text_of(row)
    assert "Critical" in browser.text_of(row)
    browser.shot("review-listed", guide="alerts-reviews")
    browser.open("/alerts?state=firing")
    browser.wait(lambda: browser.find_all(f"#alert-rule-{rule}"), "the firing rule")
    assert FIRING_RULE in browser.text_of(f"#alert-rule-{rule}")
    assert "✗ Firing" in browser.text_of(f"#alert-rule-{rule}")

    strip = kpi_strip(browser, "Open reviews (1)")
    assert f"#{review} {title}" in strip
    assert trend_marks(browser) == [f"Review #{review}"]
    browser.shot("kpi-open-review")

    browser.find(f"#kpi-reviews a[href='/reviews/{review}']").click()
    browser.wait(lambda: browser.path() == f"/reviews/{review}", "the review page")
    browser.wait(lambda: title in browser.text_of("#review-header"), "the review's header")
    browser.element("#review-note", "the action panel").send_keys("Expected: spring campaign.")
    press(browser, "#review-decide")
    browser.wait(
        lambda: "Decision recorded" in browser.text_of("#review-decide-result"), "the decision"
    )
    browser.wait(
        lambda: "spring campaign" in browser.text_of("#review-timeline"), "the decision's step"
    )
    browser.shot("review-decided", guide="alerts-review-decided")
    with world.engine.connect() as connection:
        state, note = connection.execute(
            text("SELECT state::text, decision_note FROM reviews WHERE id = :r"), {"r": review}
        ).one()
    assert (state, note) == ("decided", "Expected: spring campaign.")

    clock.now += dt.timedelta(minutes=1)  # the strip is cached for the minute
    strip = kpi_strip(browser, "Decisions (1)")
    assert "Open reviews" not in strip
    assert "Expected: spring campaign." in strip
    assert trend_marks(browser) == [f"Decided #{review}"]
    browser.shot("kpi-decision", guide="alerts-decision-on-trend")
    browser.assert_clean_console()


@pytest.fixture
def downloads(browser: Browser, tmp_path: Path) -> Path:
    """Headless Chromium saves downloads only where it is told to."""
    browser.driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior",
        {"behavior": "allow", "downloadPath": str(tmp_path), "eventsEnabled": True},
    )
    return tmp_path


def test_source_admin_and_log_pages_render_and_export_under_the_csp(
    browser: Browser, world: World, admin: int, downloads: Path
) -> None:
    browser.sign_in(ADMIN, PASSWORD, "/admin/sources/orders")
    browser.wait(lambda: "Orders" in browser.text_of("#admin-source-head"), "the source's head")
    browser.wait(lambda: browser.text_of("#admin-source-keys"), "the API keys")
    browser.wait(
        lambda: "Contract (current version 1)" in browser.text_of("#ns-page"), "the contract"
    )
    assert "customer_email" in browser.text_of("#ns-page")
    browser.shot("source-page", guide="admin-source")

    browser.open("/admin/logs")
    grid = "#admin-logs-access-grid .ag-row"
    browser.wait(lambda: browser.find_all(grid), "the access log's rows")
    assert "admin-source" in browser.text_of("#admin-logs-access-grid")
    browser.shot("access-log", guide="admin-access-log")
    press(browser, "#admin-logs-access-export")
    note = browser.wait(
        lambda: re.fullmatch(
            r"Exported [\d,]+ rows?\.", browser.text_of("#admin-logs-access-export-note")
        ),
        "the export note",
    )
    exported = int(note[0].split()[1].replace(",", ""))
    files = browser.wait(lambda: sorted(downloads.glob("northstar-access-log-*.csv")), "the CSV")
    rows = list(csv.reader(io.StringIO(files[0].read_text(encoding="utf-8"))))
    assert len(rows) == 1 + exported
    assert any("admin-source" in cell for row in rows[1:] for cell in row)
    browser.shot("exported")
    browser.assert_clean_console()
