"""Headless Debian Chromium driven by Selenium: start-up, waits, screenshots, the console log.

Chromium runs with the flags this closed network needs (no QUIC, no background, component or
sync traffic, a fresh profile) so it only ever talks to the test server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = "run scripts/ensure-browser.sh (apt-get install -y chromium chromium-driver)"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--window-size=1600,1000",
)
WAIT_S = 20.0
# Console messages that break the page's security or code: CSP refusals and any error.
CSP_PATTERN = re.compile(r"Content Security Policy|Refused to", re.IGNORECASE)
T = TypeVar("T")


def browser_missing() -> str | None:
    """Why the browser cannot start here, or None."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    return f"{' and '.join(missing)} missing: {INSTALL_HINT}" if missing else None


def start_chromium(profile: Path) -> webdriver.Chrome:
    """Debian's Chromium through its own chromium-driver (no driver or browser download)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(WAIT_S)
    return driver


@dataclass
class ConsoleEntry:
    page: str
    level: str
    message: str

    def is_problem(self) -> bool:
        return self.level == "SEVERE" or bool(CSP_PATTERN.search(self.message))


@dataclass
class Browser:
    """One signed-out Chromium on the live server, saving a screenshot of each step."""

    driver: webdriver.Chrome
    base_url: str
    artifacts: Path
    guide: Path | None = None
    """Where ``shot(..., guide=NAME)`` also saves ``NAME.png`` (``--guide-screenshots``)."""
    console: list[ConsoleEntry] = field(default_factory=list)
    _shots: int = 0

    # -- navigation and waiting ------------------------------------------------------------

    def open(self, path: str) -> None:
        self.collect_console()
        self.driver.get(self.base_url + path)

    def path(self) -> str:
        """The current address without scheme and host."""
        url: str = self.driver.current_url
        return url.removeprefix(self.base_url)

    def wait(self, condition: Callable[[], T | None], what: str, timeout: float = WAIT_S) -> T:
        """``condition()``'s first truthy result; elements re-rendered meanwhile are retried."""

        def poll(_driver: Any) -> T | Literal[False]:
            try:
                value = condition()
            except (NoSuchElementException, StaleElementReferenceException):
                return False
            return value if value else False

        try:
            result = WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(poll)
        except TimeoutException:
            self.shot(f"timeout-{what}")
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}") from None
        return result

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def element(self, css: str, what: str | None = None) -> WebElement:
        """The first element matching ``css`` once it is displayed."""

        def shown() -> WebElement | None:
            found = self.find(css)
            return found if found.is_displayed() else None

        return self.wait(shown, what or css)

    def text_of(self, css: str) -> str:
        return str(self.find(css).text)

    def wait_text(self, css: str, expected: str | re.Pattern[str], what: str) -> str:
        """The text of ``css`` once it equals (or fully matches) ``expected``."""

        def matches() -> str | None:
            text = self.text_of(css)
            ok = expected.fullmatch(text) if isinstance(expected, re.Pattern) else text == expected
            return text if ok else None

        return self.wait(matches, f"{what} ({css} = {expected!r})")

    def sign_in(self, email: str, password: str, path: str = "/") -> None:
        """Sign in through the real form at ``/login?next=path`` and wait to land on ``path``."""
        self.open("/login?" + urlencode({"next": path}))
        self.element("#email", "the sign-in form").send_keys(email)
        self.find("#password").send_keys(password)
        self.shot("sign-in-form")
        self.find("form button[type=submit]").click()
        self.wait(lambda: self.path() == path, f"to land on {path} after signing in")

    # -- artifacts -------------------------------------------------------------------------

    def shot(self, step: str, guide: str | None = None) -> Path:
        """Save a screenshot of the whole page as ``NN-step.png`` in the test's artifacts.

        With ``guide``, the user guide shows this step: under ``--guide-screenshots DIR`` the
        picture is also saved as ``DIR/guide.png`` (``make screenshots``, docs/guide/)."""
        self._shots += 1
        name = re.sub(r"[^a-z0-9-]+", "-", step.lower()).strip("-")[:60]
        target = self.artifacts / f"{self._shots:02d}-{name}.png"
        width, height = self.driver.execute_script(
            "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight];"
        )
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        target.write_bytes(base64.b64decode(shot["data"]))
        if guide and self.guide is not None:
            shutil.copyfile(target, self.guide / f"{guide}.png")
        return target

    def save_failure(self) -> None:
        """Screenshot, page source and console of the page a failed test stopped on."""
        self.shot("failure")
        (self.artifacts / "failure.html").write_text(self.driver.page_source, encoding="utf-8")
        self.collect_console()
        lines = [json.dumps(e.__dict__, ensure_ascii=False) for e in self.console]
        (self.artifacts / "console.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # -- the console -----------------------------------------------------------------------

    def collect_console(self) -> list[ConsoleEntry]:
        """Move the browser's console messages since the last call into ``console``."""
        page = self.path() if self.driver.current_url.startswith(self.base_url) else "-"
        entries = [
            ConsoleEntry(page, str(e.get("level")), str(e.get("message")))
            for e in self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        ]
        self.console.extend(entries)
        return entries

    def console_problems(self) -> list[ConsoleEntry]:
        self.collect_console()
        return [entry for entry in self.console if entry.is_problem()]

    def assert_clean_console(self) -> None:
        """No CSP refusal and no JavaScript error on any page visited so far."""
        problems = self.console_problems()
        assert not problems, "browser console reported problems:\n" + "\n".join(
            f"  {p.page} [{p.level}] {p.message}" for p in problems
        )


def fresh_profile() -> Path:
    return Path(tempfile.mkdtemp(prefix="northstar-e2e-chromium-"))
