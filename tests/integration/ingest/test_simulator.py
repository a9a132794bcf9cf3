"""The live simulator against the real app over HTTP, drained by a burst RQ worker."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import threading
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text
from werkzeug.serving import make_server

from dashboard.app import create_app
from ingest import jobs
from ingest.demo.catalog import SOURCES, business_units
from ingest.demo.profiles import MARKETING_CHANNELS
from ingest.demo.seed import seed_demo
from ingest.faults import DRIFT_FIELD, NO_FAULTS, FaultKind, FaultSchedule, FaultWindow
from ingest.simulator import Simulator
from ingest.simulator_http import IngestClient
from ingest.simulator_run import Pacing, provision_keys, revoke_keys, run
from ingest.worker import run_worker
from models.settings import Settings

NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
"""A Wednesday noon: every demo source is busy in Europe."""
RATE = 400.0
SOURCE_KEYS = [s.key for s in SOURCES]


@pytest.fixture
def api_url(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[str]:
    seed_demo(db, settings)
    jobs.init_services(settings)
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def keys(db: Engine, redis_client: redis.Redis, api_url: str) -> Iterator[dict[str, str]]:
    made = provision_keys(db, redis_client, SOURCE_KEYS)
    yield made
    revoke_keys(db, redis_client, made.values())


def _simulator(url: str, keys: dict[str, str], *windows: FaultWindow) -> Simulator:
    schedule = FaultSchedule(windows, period_s=100) if windows else NO_FAULTS
    return Simulator(IngestClient(url), keys, schedule, rate=RATE, seed=11)


def _drain(settings: Settings) -> None:
    run_worker(settings, burst=True, logging_level="WARNING")


def _count(engine: Engine, sql: str, source: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), {"k": source}).scalar_one())


def _events(engine: Engine, source: str) -> int:
    return _count(
        engine,
        "SELECT count(*) FROM events e JOIN sources s ON s.id = e.source_id WHERE s.key = :k",
        source,
    )


def _distinct_events(engine: Engine, source: str) -> int:
    return _count(
        engine,
        "SELECT count(DISTINCT event_id) FROM events e JOIN sources s ON s.id = e.source_id "
        "WHERE s.key = :k",
        source,
    )


def _quarantined(engine: Engine, source: str) -> int:
    return _count(engine, "SELECT count(*) FROM quarantine WHERE source_key = :k", source)


def test_simulated_events_are_accepted_and_stored_for_every_streaming_source(
    api_url: str, keys: dict[str, str], db: Engine, settings: Settings
) -> None:
    simulator = _simulator(api_url, keys)

    sent = simulator.tick(NOW, elapsed_s=0, seconds=2)
    _drain(settings)

    assert {b.source for b in sent} == {"orders", "web_sessions", "support_tickets"}
    stats = simulator.stats
    assert sum(stats.posted.values()) > 100
    assert stats.accepted == stats.posted
    assert sum(stats.rejected.values()) == 0
    for source in ("orders", "web_sessions"):
        assert _events(db, source) == stats.accepted[source]


def test_malformed_records_are_rejected_counted_and_quarantined(
    api_url: str, keys: dict[str, str], db: Engine, settings: Settings
) -> None:
    simulator = _simulator(
        api_url, keys, FaultWindow(FaultKind.MALFORMED, "web_sessions", 0, 50, 0.2)
    )

    simulator.tick(NOW, elapsed_s=0, seconds=2)
    _drain(settings)

    stats = simulator.stats
    malformed = stats.malformed["web_sessions"]
    assert malformed >= 4  # every kind of malformation at least once
    assert stats.rejected["web_sessions"] == malformed
    assert stats.accepted["web_sessions"] == stats.posted["web_sessions"] - malformed
    assert _quarantined(db, "web_sessions") == malformed
    assert stats.rejected["orders"] == 0


def test_a_duplicates_burst_resends_the_same_event_ids_which_are_stored_once(
    api_url: str, keys: dict[str, str], db: Engine, settings: Settings
) -> None:
    simulator = _simulator(api_url, keys, FaultWindow(FaultKind.DUPLICATES, "orders", 0, 50, 2))

    sent = {b.source: b for b in simulator.tick(NOW, elapsed_s=0, seconds=2)}
    _drain(settings)

    orders = len(sent["orders"].event_ids)
    assert orders > 0
    assert simulator.stats.duplicates["orders"] == 2 * orders
    assert simulator.stats.accepted["orders"] == 3 * orders  # the API takes each copy
    assert _events(db, "orders") == _distinct_events(db, "orders") == orders


def test_a_silent_source_sends_nothing_in_its_window(
    api_url: str, keys: dict[str, str], db: Engine, settings: Settings
) -> None:
    simulator = _simulator(api_url, keys, FaultWindow(FaultKind.SILENCE, "orders", 10, 20))

    during = simulator.tick(NOW, elapsed_s=15, seconds=2)
    after = simulator.tick(NOW + dt.timedelta(seconds=20), elapsed_s=35, seconds=2)
    _drain(settings)

    assert "orders" not in {b.source for b in during}
    assert "web_sessions" in {b.source for b in during}
    orders_after = len(next(b for b in after if b.source == "orders").event_ids)
    assert _events(db, "orders") == orders_after


def test_drift_adds_a_field_outside_the_contract_and_the_records_are_still_accepted(
    api_url: str, keys: dict[str, str], db: Engine, settings: Settings
) -> None:
    simulator = _simulator(api_url, keys, FaultWindow(FaultKind.DRIFT, "web_sessions", 0, 50, 1.0))

    sent = {b.source: b for b in simulator.tick(NOW, elapsed_s=0, seconds=1)}

    contract = {f.name for f in next(s for s in SOURCES if s.key == "web_sessions").fields}
    assert DRIFT_FIELD not in contract
    records = sent["web_sessions"].records
    assert records
    assert all(DRIFT_FIELD in r for r in records)
    assert simulator.stats.accepted["web_sessions"] == len(records)


def test_late_events_carry_timestamps_hours_old_and_are_accepted(
    api_url: str, keys: dict[str, str], db: Engine, settings: Settings
) -> None:
    simulator = _simulator(api_url, keys, FaultWindow(FaultKind.LATE, "web_sessions", 0, 50, 0.5))

    sent = {b.source: b for b in simulator.tick(NOW, elapsed_s=0, seconds=1)}

    stamps = [dt.datetime.fromisoformat(r["ts"]) for r in sent["web_sessions"].records]
    late = [t for t in stamps if NOW - t >= dt.timedelta(minutes=30)]
    assert 0 < len(late) < len(stamps)
    assert all(NOW - t <= dt.timedelta(hours=3) for t in late)
    assert simulator.stats.accepted["web_sessions"] == len(stamps)


def test_a_volume_spike_multiplies_the_source_s_events(api_url: str, keys: dict[str, str]) -> None:
    calm = _simulator(api_url, keys).batches(NOW, 0, seconds=10)
    spiking = _simulator(api_url, keys, FaultWindow(FaultKind.SPIKE, "orders", 0, 50, 5)).batches(
        NOW, 0, seconds=10
    )

    def orders(batches: list) -> int:
        return next(len(b.records) for b in batches if b.source == "orders")

    assert 3 * orders(calm) < orders(spiking) < 7 * orders(calm)


def test_a_run_posts_yesterday_s_daily_feed_and_logs_faults_as_they_start(
    api_url: str,
    keys: dict[str, str],
    db: Engine,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    simulator = _simulator(api_url, keys, FaultWindow(FaultKind.SILENCE, "orders", 1, 2))
    ticks = itertools.count()

    with caplog.at_level(logging.INFO, logger="ingest.simulator_run"):
        run(simulator, Pacing(duration_s=3), clock=lambda: float(next(ticks)), sleep=lambda s: None)
    _drain(settings)

    rows = len(business_units()) * len(MARKETING_CHANNELS)
    assert simulator.stats.accepted["marketing_spend"] == rows
    assert _events(db, "marketing_spend") == rows
    assert any("fault starts: silence" in m and "orders" in m for m in caplog.messages)
    assert "simulator done" in caplog.text
    assert all(key not in caplog.text for key in keys.values())


def test_the_keys_the_simulator_made_stop_working_once_revoked(
    api_url: str, db: Engine, redis_client: redis.Redis
) -> None:
    made = provision_keys(db, redis_client, ["orders"])
    client = IngestClient(api_url)
    body = json.dumps([]).encode()

    before = client.post_events("orders", made["orders"], body, "application/json")
    revoke_keys(db, redis_client, made.values())
    after = client.post_events("orders", made["orders"], body, "application/json")

    assert (before.status, after.status) == (202, 401)
