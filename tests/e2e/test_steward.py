"""A data steward in a real browser: the incident the simulator's outage caused (open it,
acknowledge, resolve with a note) and the replay of a quarantined batch after a contract fix."""

from __future__ import annotations

import re

import pytest
import redis
from selenium.webdriver.remote.webelement import WebElement
from sqlalchemy import Engine

from ingest.demo.catalog import ORDERS, WEB_SESSIONS
from models.quality.tables import CheckKey
from models.settings import Settings

from .browser import Browser
from .steward_world import (
    PASSWORD,
    REFUNDS,
    STEWARD,
    STEWARD_NAME,
    StewardWorld,
    allow_refunds,
    build_steward_world,
    incident_row,
    newest_event,
    open_incidents,
    quarantine_refunds,
    quarantine_rows,
    simulate_outage,
    stored_order_ids,
)
from .steward_world import drain as drain_streams

pytestmark = pytest.mark.e2e

INCIDENTS = "/steward/incidents"
QUARANTINE = "/steward/quarantine"
NOTE = "Order service restarted after the outage; events flow again."


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> StewardWorld:
    """Overrides the executives' world: the live server serves this one instead."""
    return build_steward_world(db, redis_client, settings)


def test_steward_handles_the_incident_of_the_simulated_outage(
    browser: Browser, world: StewardWorld
) -> None:
    outage = simulate_outage(world, browser.base_url)

    # The fault silenced orders only, for longer than its SLA, and the cycle noticed.
    newest_orders = newest_event(world.engine, ORDERS.key)
    newest_sessions = newest_event(world.engine, WEB_SESSIONS.key)
    assert newest_orders is not None
    assert newest_sessions is not None
    assert newest_orders < outage.silent_since <= newest_sessions
    assert (outage.checked_at - newest_orders).total_seconds() > ORDERS.freshness_sla_s
    incidents = open_incidents(world.engine)
    incident_id = incidents[(ORDERS.key, CheckKey.FRESHNESS.value)]
    assert (WEB_SESSIONS.key, CheckKey.FRESHNESS.value) not in incidents
    assert incident_id in outage.opened

    browser.sign_in(STEWARD, PASSWORD, INCIDENTS)
    link = f'#queue-table a[href="{INCIDENTS}/{incident_id}"]'
    title = browser.wait(lambda: browser.find(link).text, "the freshness incident in the queue")
    assert title == f"#{incident_id} Freshness failing on {ORDERS.name}"
    browser.shot("incident-queue", guide="steward-incidents")

    browser.find(link).click()
    browser.wait(lambda: browser.path() == f"{INCIDENTS}/{incident_id}", "the incident page")
    browser.wait(
        lambda: f"Incident #{incident_id}" in browser.text_of("#incident-header h1"),
        "the incident header",
    )
    header = browser.text_of("#incident-header")
    assert "newest event is" in header, header
    assert "SLA 5 min" in header, header
    browser.element("#incident-steps", "the timeline")
    assert "Opened" in browser.text_of("#incident-steps")
    browser.shot("incident-opened")

    browser.element("#incident-acknowledge", "the acknowledge button").click()
    browser.wait_text(
        "#incident-acknowledge-result",
        "Acknowledged: it no longer escalates.",
        "the acknowledgement",
    )
    browser.wait(
        lambda: (
            "Acknowledged" in browser.text_of("#incident-steps")
            and STEWARD_NAME in browser.text_of("#incident-steps")
        ),
        "the acknowledgement in the timeline",
    )
    assert f"by {STEWARD_NAME}" in browser.text_of("#incident-header")
    browser.shot("incident-acknowledged", guide="steward-incident")

    browser.find("#incident-note").send_keys(NOTE)
    browser.find("#incident-resolve").click()
    browser.wait_text("#incident-resolve-result", "Resolved.", "the resolution")
    browser.wait(
        lambda: (
            "Resolved" in browser.text_of("#incident-steps")
            and NOTE in browser.text_of("#incident-steps")
        ),
        "the resolution in the timeline",
    )
    steps = browser.find_all("#incident-steps > li")
    resolved = steps[-1].text
    assert resolved.splitlines()[0].startswith(f"✔ Resolved · {STEWARD_NAME} · "), resolved
    assert NOTE in resolved, resolved
    header = browser.text_of("#incident-header")
    assert re.search(rf"\nResolved\n[-\d]+ [:\d]+ UTC by {STEWARD_NAME}\n", header), header
    assert NOTE in header, header
    browser.shot("incident-resolved")

    assert incident_row(world.engine, incident_id) == {
        "status": "resolved",
        "acknowledged_by": world.steward_id,
        "resolved_by": world.steward_id,
        "resolution_note": NOTE,
    }
    browser.assert_clean_console()


def test_steward_replays_a_quarantined_batch_after_a_contract_fix(
    browser: Browser, world: StewardWorld
) -> None:
    batch = quarantine_refunds(world, browser.base_url)
    assert quarantine_rows(world.engine) == dict.fromkeys(batch.order_ids, ("open", "min"))
    assert stored_order_ids(world.engine, batch.accepted_ids) == set(batch.accepted_ids)
    version = allow_refunds(world)

    browser.sign_in(STEWARD, PASSWORD, QUARANTINE)
    browser.element("#quarantine-source", "the source filter")
    select_source(browser, ORDERS.name)
    browser.wait(
        lambda: f"of {REFUNDS} open records" in browser.text_of("#quarantine-summary"),
        "the orders' open records",
    )
    browser.wait(
        lambda: (
            len(browser.find_all("#quarantine-grid .ag-center-cols-container .ag-row")) == REFUNDS
        ),
        "the refunds in the grid",
    )
    browser.shot("quarantine-orders")

    browser.find("#quarantine-preview").click()
    preview = browser.wait(
        lambda: browser.text_of("#quarantine-preview-note") or None, "the replay preview"
    )
    assert f"Against contract v{version} of {ORDERS.name}" in preview, preview
    assert f"{REFUNDS} would now pass, 0 still fail" in preview, preview
    replay = browser.wait(lambda: enabled(browser, "#quarantine-replay"), "Replay enabled")
    assert replay.text == f"Replay {REFUNDS} records"
    browser.shot("quarantine-previewed", guide="steward-quarantine-preview")

    replay.click()
    done = browser.wait(
        lambda: browser.text_of("#quarantine-replay-note") or None, "the replay's report"
    )
    assert f"Replayed {ORDERS.name} against contract v{version}" in done, done
    assert f"{REFUNDS} re-ingested, 0 still failing" in done, done
    browser.shot("quarantine-replayed", guide="steward-quarantine-replayed")

    drain_streams(world.settings)
    assert quarantine_rows(world.engine) == dict.fromkeys(batch.order_ids, ("replayed", "min"))
    assert stored_order_ids(world.engine, batch.order_ids) == set(batch.order_ids)
    browser.assert_clean_console()


def select_source(browser: Browser, name: str) -> None:
    """Choose ``name`` in the quarantine's source dropdown as a person does: type, pick."""
    browser.find("#quarantine-source").click()
    option = browser.wait(
        lambda: next(
            (o for o in browser.find_all("[role=option]") if o.text.startswith(name)), None
        ),
        f"the option {name}",
    )
    option.click()


def enabled(browser: Browser, css: str) -> WebElement | None:
    found = browser.find(css)
    return found if found.is_enabled() else None
