"""Fixtures of the browser tests: seeded data, the app on a live server, a headless Chromium.

Each test gets empty tables seeded anew (``world``), its own server thread on a free port of
127.0.0.1 serving ``create_app`` exactly as gunicorn would (one Flask server for the pages, the
callbacks and the ingest API), and a fresh Chromium profile. Screenshots of every step go to
``tests/e2e/artifacts/<test name>/``; a failing test also leaves ``failure.png``,
``failure.html`` and ``console.jsonl`` there.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine
from werkzeug.serving import make_server

from dashboard.app import create_app
from dashboard.auth.policy import SERVICES_KEY
from models.settings import Settings

from .browser import Browser, browser_missing, fresh_profile, start_chromium
from .world import World, build_world

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the outcome of the test body, so the browser fixture can save a failure's page."""
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> World:
    return build_world(db, settings)


@pytest.fixture
def live_server(world: World, settings: Settings) -> Iterator[str]:
    """The base URL of the app served by werkzeug in a thread, as a browser reaches it."""
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions[SERVICES_KEY].close()


@pytest.fixture(scope="session")
def chromium_installed() -> None:
    """Fail at once, with the command to run, where Chromium or its driver is missing."""
    problem = browser_missing()
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def browser(
    request: pytest.FixtureRequest, chromium_installed: None, live_server: str
) -> Iterator[Browser]:
    """A signed-out headless Chromium on the live server."""
    artifacts = ARTIFACTS / request.node.name
    shutil.rmtree(artifacts, ignore_errors=True)
    artifacts.mkdir(parents=True)
    profile = fresh_profile()
    driver = start_chromium(profile)
    guide = request.config.getoption("guide_screenshots")
    if guide is not None:
        Path(guide).mkdir(parents=True, exist_ok=True)
    opened = Browser(driver, live_server, artifacts, Path(guide) if guide else None)
    try:
        yield opened
    finally:
        report = request.node.stash.get(CALL_REPORT, None)
        try:
            if report is not None and report.failed:
                opened.save_failure()
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
