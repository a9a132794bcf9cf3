"""Signing out in a real browser, and proof that the console check catches what it must."""

from __future__ import annotations

import pytest

from ingest.demo.catalog import KPIS

from .browser import Browser
from .world import GLOBAL_EXECUTIVE, PASSWORD

pytestmark = pytest.mark.e2e


def wait_overview(browser: Browser) -> None:
    browser.wait(
        lambda: len(browser.find_all("#overview-grid .kpi-tile")) == len(KPIS), "the tiles"
    )


def on_login_page(browser: Browser) -> bool:
    return browser.path().startswith("/login") and bool(browser.find_all("form #email"))


def test_sign_out_ends_the_session(browser: Browser) -> None:
    browser.sign_in(GLOBAL_EXECUTIVE, PASSWORD)
    wait_overview(browser)
    assert browser.text_of("#ns-user-name") == "Grace E2E"
    assert browser.text_of("#overview-grid p.text-secondary").startswith("Today · Northstar Group")
    browser.shot("signed-in")

    browser.find("#ns-sign-out").click()
    browser.wait(lambda: on_login_page(browser), "the sign-in page after signing out")
    browser.shot("signed-out")

    # Back shows the sign-in page again, not the dashboard from the browser's cache.
    browser.driver.back()
    browser.wait(lambda: on_login_page(browser), "the sign-in page after going back")
    assert not browser.find_all("#overview-grid")
    browser.shot("back-after-sign-out")

    browser.open("/kpi/revenue?unit=group&period=today")
    browser.wait(lambda: on_login_page(browser), "the sign-in page instead of a KPI page")
    browser.assert_clean_console()


def test_console_check_catches_csp_refusals_and_errors(browser: Browser) -> None:
    """The other tests' clean-console assertion can fail: an inline script is refused by the
    CSP (and does not run), and both the refusal and a JavaScript error are reported."""
    browser.sign_in(GLOBAL_EXECUTIVE, PASSWORD)
    wait_overview(browser)
    assert not browser.console_problems()

    browser.driver.execute_script(
        "const s = document.createElement('script');"
        "s.textContent = 'window.e2eInlineRan = true';"
        "document.body.appendChild(s);"
        "setTimeout(() => { throw new Error('e2e deliberate error'); });"
    )
    problems = browser.wait(lambda: len(browser.console_problems()) >= 2 or None, "two problems")
    assert problems
    messages = [p.message for p in browser.console_problems()]
    assert any("Content Security Policy" in m for m in messages), messages
    assert any("e2e deliberate error" in m for m in messages), messages
    assert browser.driver.execute_script("return window.e2eInlineRan === undefined")
    with pytest.raises(AssertionError, match="Content Security Policy"):
        browser.assert_clean_console()
