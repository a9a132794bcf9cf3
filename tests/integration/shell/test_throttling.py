"""Per-user throttling and the database cap against real PostgreSQL and Redis, over HTTP.

The budget is small in these tests (``4/minute``) so that a handful of requests use it up; a
minute-long window cannot refill during a test.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from dashboard.app import create_app
from dashboard.auth import policy
from dashboard.auth.dbcap import DatabaseBusy, QuerySlots
from dashboard.auth.policy import (
    BUSY,
    QUERY_SLOTS_KEY,
    CallContext,
    UserFacingError,
    guarded_callback,
)
from dashboard.auth.ratelimit import STORAGE_PREFIX
from integration.auth_support import (
    COOKIE,
    GLOBAL,
    REGIONAL,
    FakeClock,
    Site,
    add_users,
    page_request,
    sign_in,
)
from models.enums import Outcome
from models.logs import AccessLog
from models.queries.principals import load_account
from models.settings import ConfigurationError, Settings, load_settings

UPDATE = "/_dash-update-component"
BUDGET = 4
TOO_MANY = "Too many requests: please wait"
TILES_OUTPUT = "overview-grid.children"
UNREACHABLE = "redis://127.0.0.1:1/0"


def refusal_text(error: UserFacingError) -> str:
    return error.message


@guarded_callback(page="throttle-probe", permission=None, on_error=refusal_text)
def probe(call: CallContext, /) -> str:
    """A guarded data read as pages write them: one bounded read inside the database cap."""
    with policy.read_connection() as connection:
        connection.exec_driver_sql("SELECT 1")
    call.rows = 1
    return "data"


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def build(
    db: Engine, redis_client: redis.Redis, settings: Settings
) -> Iterator[Callable[..., Site]]:
    """Build the app with settings overridden (throttling on, a budget of 4 a minute)."""
    user_ids = add_users(db)
    apps: list[Flask] = []

    def make(**overrides: Any) -> Site:
        values = {"rate_limit": f"{BUDGET}/minute", "rate_limit_enabled": True, **overrides}
        app = create_app(settings.model_copy(update=values), clock=FakeClock())
        apps.append(app)
        return Site(app, FakeClock(), user_ids)

    yield make
    for app in apps:
        app.extensions["northstar"].close()


def signed_in(site: Site, email: str = GLOBAL, address: str = "10.0.0.1") -> FlaskClient:
    client = site.client(address)
    assert sign_in(client, email).status_code == 303
    return client


def tiles_body(client: FlaskClient, redis_client: redis.Redis, unit: str) -> dict[str, Any]:
    """The Overview tiles callback as the browser posts it, built from ``/_dash-dependencies``.

    Reading the dependencies spends budget, so the budgets are reset afterwards.
    """
    dependencies = client.get("/_dash-dependencies").get_json()
    # The first match: an app that never served a signed-in request leaves its pages'
    # callbacks in Dash's global list, and the next app lists them twice.
    spec = next(d for d in dependencies if TILES_OUTPUT in d["output"])
    values = {"overview-period": "1h", "overview-unit": unit}
    outputs = [
        dict(zip(("id", "property"), output.rsplit(".", 1), strict=True))
        for output in spec["output"].strip(".").split("...")
    ]
    inputs = [{**item, "value": values.get(item["id"])} for item in spec["inputs"]]
    reset_budgets(redis_client)
    return {
        "output": spec["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        "state": [{**item, "value": values.get(item["id"])} for item in spec["state"]],
    }


def reset_budgets(redis_client: redis.Redis) -> None:
    for key in redis_client.scan_iter(f"{STORAGE_PREFIX}*"):
        redis_client.delete(key)


def shown(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def access_rows(db: Engine, page: str) -> list[tuple[int | None, str, Outcome, dict[str, Any]]]:
    with Session(db) as session:
        rows = session.execute(
            select(AccessLog.user_id, AccessLog.action, AccessLog.outcome, AccessLog.detail)
            .where(AccessLog.page == page)
            .order_by(AccessLog.id)
        ).all()
    return [(r.user_id, r.action, r.outcome, dict(r.detail)) for r in rows]


def call_as(site: Site, email: str, fn: Callable[[], Any]) -> Any:
    """Call a guarded function directly (no HTTP), signed in as ``email``."""
    with site.app.test_request_context(UPDATE, method="POST"):
        with site.app.extensions["northstar"].engine.connect() as connection:
            account = load_account(connection, site.user_ids[email])
        assert account is not None
        g._login_user = policy.SignedInUser(account)
        return fn()


@contextmanager
def holding_a_slot(app: Flask) -> Iterator[None]:
    """Another request's thread holds a database slot (inside read_connection) meanwhile."""
    entered, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with app.app_context(), policy.read_connection() as connection:
            connection.exec_driver_sql("SELECT 1")
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert entered.wait(5)
        yield
    finally:
        leave.set()
        thread.join(10)


# --- the per-user budget: the UI message ----------------------------------------------------


def test_over_budget_a_callback_shows_the_message_with_retry_after_and_logs_throttled(
    build: Callable[..., Site], redis_client: redis.Redis, db: Engine
) -> None:
    site = build()
    client = signed_in(site)
    body = tiles_body(client, redis_client, "acme")
    for _ in range(BUDGET):
        answer = client.post(UPDATE, json=body)
        assert answer.status_code == 200
        assert TOO_MANY not in shown(answer)
        assert "Retry-After" not in answer.headers
    refused = client.post(UPDATE, json=body)
    assert refused.status_code == 200  # Dash renders nothing but a 200
    assert TOO_MANY in shown(refused)
    assert "s and try again." in shown(refused)
    assert int(refused.headers["Retry-After"]) >= 1
    logged = access_rows(db, "overview")
    assert [outcome for _, _, outcome, _ in logged] == [Outcome.OK] * BUDGET + [Outcome.THROTTLED]
    user_id, action, _, detail = logged[-1]
    assert user_id == site.user_ids[GLOBAL]
    assert action == "update_tiles"
    assert detail["refused"].startswith(TOO_MANY)


def test_one_users_budget_does_not_throttle_another(
    build: Callable[..., Site], redis_client: redis.Redis
) -> None:
    site = build()
    grace, elena = signed_in(site, GLOBAL), signed_in(site, REGIONAL, "10.0.0.1")
    body = tiles_body(grace, redis_client, "acme")
    for _ in range(BUDGET + 1):
        last = grace.post(UPDATE, json=body)
    assert TOO_MANY in shown(last)
    theirs = elena.post(UPDATE, json={**body, "inputs": _with_unit(body, "unit2")})
    assert theirs.status_code == 200
    assert TOO_MANY not in shown(theirs)
    assert "Not allowed" not in shown(theirs)


def _with_unit(body: dict[str, Any], unit: str) -> list[dict[str, Any]]:
    return [
        {**item, "value": unit} if item["id"] == "overview-unit" else item
        for item in body["inputs"]
    ]


def test_forged_forwarded_for_and_other_addresses_share_the_users_budget(
    build: Callable[..., Site], redis_client: redis.Redis
) -> None:
    site = build(trusted_proxies=0)
    client = signed_in(site)
    body = tiles_body(client, redis_client, "acme")
    for _ in range(BUDGET):
        client.post(UPDATE, json=body)
    forged = client.post(UPDATE, json=body, headers={"X-Forwarded-For": "203.0.113.77"})
    assert TOO_MANY in shown(forged)
    # A new session from another address, as the same user: the same budget.
    elsewhere = signed_in(site, GLOBAL, address="10.7.7.7")
    moved = elsewhere.post(UPDATE, json=body, headers={"X-Forwarded-For": "198.51.100.1"})
    assert TOO_MANY in shown(moved)


def test_throttling_can_be_turned_off(
    build: Callable[..., Site], redis_client: redis.Redis
) -> None:
    site = build(rate_limit="1/minute", rate_limit_enabled=False)
    client = signed_in(site)
    body = tiles_body(client, redis_client, "acme")
    for _ in range(5):
        assert TOO_MANY not in shown(client.post(UPDATE, json=body))
    assert client.get("/_dash-layout").status_code == 200


# --- the per-user budget: real 429s ---------------------------------------------------------


def test_page_loads_and_other_requests_over_budget_answer_429_with_a_reason(
    build: Callable[..., Site], db: Engine
) -> None:
    site = build()
    client = signed_in(site)
    for _ in range(BUDGET):
        assert client.get("/_dash-layout").status_code == 200
    refused = client.get("/_dash-layout")
    assert refused.status_code == 429
    reason = refused.get_json()
    assert reason["error"] == "throttled"
    assert reason["message"].startswith(TOO_MANY)
    assert int(refused.headers["Retry-After"]) == reason["retry_after"] >= 1
    page = client.get("/kpi/revenue")
    assert page.status_code == 429
    assert page.mimetype == "text/plain"
    assert shown(page).startswith(TOO_MANY)
    assert "Retry-After" in page.headers
    logged = access_rows(db, "http")
    assert [(action, outcome) for _, action, outcome, _ in logged] == [
        ("GET /_dash-layout", Outcome.THROTTLED),
        ("GET /kpi/revenue", Outcome.THROTTLED),
    ]
    assert all(u == site.user_ids[GLOBAL] and d["status"] == 429 for u, _, _, d in logged)


def test_page_loads_and_callbacks_spend_one_budget(
    build: Callable[..., Site], redis_client: redis.Redis
) -> None:
    site = build()
    client = signed_in(site)
    body = tiles_body(client, redis_client, "acme")
    for _ in range(BUDGET - 1):
        assert client.get("/_dash-layout").status_code == 200
    assert TOO_MANY not in shown(client.post(UPDATE, json=body))
    assert TOO_MANY in shown(client.post(UPDATE, json=body))
    assert client.get("/_dash-layout").status_code == 429


def test_a_client_that_keeps_calling_far_beyond_the_budget_gets_429(
    build: Callable[..., Site], redis_client: redis.Redis, db: Engine
) -> None:
    site = build()
    client = signed_in(site)
    body = tiles_body(client, redis_client, "acme")
    answers = [client.post(UPDATE, json=body) for _ in range(3 * BUDGET)]
    # The budget, then as many refusals shown in the page, then 429 for a client ignoring them.
    assert [a.status_code for a in answers] == [200] * (2 * BUDGET) + [429] * BUDGET
    assert [TOO_MANY in shown(a) for a in answers[: 2 * BUDGET]] == [False] * BUDGET + [
        True
    ] * BUDGET
    hard = answers[-1]
    assert hard.get_json()["error"] == "throttled"
    assert int(hard.headers["Retry-After"]) >= 1
    assert len(access_rows(db, "http")) == BUDGET
    assert [o for _, _, o, _ in access_rows(db, "overview")].count(Outcome.THROTTLED) == BUDGET


def test_static_files_health_sign_in_and_sign_out_spend_no_budget(
    build: Callable[..., Site],
) -> None:
    site = build()
    client = signed_in(site)
    for _ in range(3 * BUDGET):
        assert client.get("/healthz").status_code == 200
        client.get("/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.js")
        client.get("/vendor/bootstrap/css/bootstrap.min.css")
    assert client.get("/_dash-layout").status_code == 200
    for _ in range(BUDGET):  # anonymous and wrong sign-ins are the login throttle's business
        site.client().post("/login", data={"email": GLOBAL, "password": "wrong"})
    assert client.post("/logout").status_code in (302, 303)


def test_anonymous_requests_are_refused_before_any_budget_is_spent(
    build: Callable[..., Site], redis_client: redis.Redis
) -> None:
    site = build()
    anonymous = site.client()
    for _ in range(2 * BUDGET):
        assert anonymous.get("/_dash-layout").status_code == 401
    assert not list(redis_client.scan_iter(f"{STORAGE_PREFIX}*"))


# --- the database cap -----------------------------------------------------------------------


def test_a_callback_waits_for_a_slot_then_says_busy_and_answers_once_the_slot_is_free(
    build: Callable[..., Site], redis_client: redis.Redis, db: Engine
) -> None:
    site = build(db_max_concurrent_queries=1, db_query_wait_s=0.3, rate_limit="100/minute")
    client = signed_in(site)
    body = tiles_body(client, redis_client, "acme")
    slots: QuerySlots = site.app.extensions[QUERY_SLOTS_KEY]
    lease = slots.try_acquire()
    assert lease is not None
    assert slots.try_acquire() is None
    started = time.monotonic()
    busy = client.post(UPDATE, json=body)
    assert time.monotonic() - started >= 0.3
    assert busy.status_code == 200
    assert BUSY in shown(busy)
    assert busy.headers["Retry-After"] == "2"
    slots.release(lease)
    normal = client.post(UPDATE, json=body)
    assert BUSY not in shown(normal)
    assert TOO_MANY not in shown(normal)
    logged = access_rows(db, "overview")
    assert [o for _, _, o, _ in logged] == [Outcome.THROTTLED, Outcome.OK]
    assert logged[0][3]["refused"] == BUSY
    assert slots.in_use() == 0


def test_a_slot_held_by_another_thread_makes_a_read_wait_then_busy(
    build: Callable[..., Site],
) -> None:
    site = build(db_max_concurrent_queries=1, db_query_wait_s=0.2)
    with holding_a_slot(site.app):
        assert call_as(site, GLOBAL, probe) == BUSY
    assert call_as(site, GLOBAL, probe) == "data"


def test_a_page_layout_that_finds_no_slot_answers_503_busy(
    build: Callable[..., Site], db: Engine
) -> None:
    site = build(db_max_concurrent_queries=1, db_query_wait_s=0.2)
    client = signed_in(site)
    with holding_a_slot(site.app):
        answer = client.post(UPDATE, json=page_request("/"))
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "busy", "message": BUSY, "retry_after": 2}
    assert answer.headers["Retry-After"] == "2"
    [(user_id, action, outcome, detail)] = access_rows(db, "http")
    assert user_id == site.user_ids[GLOBAL]
    assert (action, outcome) == (f"POST {UPDATE}", Outcome.THROTTLED)
    assert detail["status"] == 503
    assert client.post(UPDATE, json=page_request("/")).status_code == 200


def test_the_cap_is_shared_by_processes_and_never_exceeded(
    settings: Settings, redis_client: redis.Redis
) -> None:
    # Two QuerySlots with their own Redis clients stand for two web processes.
    processes = [
        QuerySlots(redis.Redis.from_url(settings.redis_url), 2, wait_s=10, lease_s=30)
        for _ in range(2)
    ]
    running, most, lock = 0, 0, threading.Lock()

    def read(slots: QuerySlots) -> None:
        nonlocal running, most
        for _ in range(5):
            with slots.slot():
                with lock:
                    running += 1
                    most = max(most, running)
                time.sleep(0.01)
                with lock:
                    running -= 1

    threads = [threading.Thread(target=read, args=(processes[n % 2],)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most == 2
    assert processes[0].in_use() == 0


def test_a_crashed_holders_lease_runs_out_and_frees_its_slot(
    settings: Settings, redis_client: redis.Redis
) -> None:
    crashed = QuerySlots(redis.Redis.from_url(settings.redis_url), 1, wait_s=0, lease_s=0.3)
    assert crashed.try_acquire() is not None  # never given back: the process died
    survivor = QuerySlots(redis.Redis.from_url(settings.redis_url), 1, wait_s=0, lease_s=30)
    assert survivor.in_use() == 1
    with pytest.raises(DatabaseBusy):
        survivor.acquire()
    time.sleep(0.4)
    assert survivor.in_use() == 0
    lease = survivor.try_acquire()
    assert lease is not None
    survivor.release(lease)


# --- Redis unreachable: both fail open to per-process limits ---------------------------------


def test_without_redis_the_cap_falls_back_to_a_per_process_semaphore(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slots = QuerySlots(redis.Redis.from_url(UNREACHABLE), 1, wait_s=0.2, lease_s=30)
    with caplog.at_level(logging.WARNING):
        lease = slots.try_acquire()
        assert lease is not None
        assert lease.local
        started = time.monotonic()
        with pytest.raises(DatabaseBusy):
            slots.acquire()
        assert time.monotonic() - started >= 0.2
        slots.release(lease)
        with slots.slot() as again:
            assert again.local
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1


def test_without_redis_budgets_are_kept_per_process_and_pages_still_answer(
    build: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    site = build(redis_url=UNREACHABLE, db_max_concurrent_queries=1)
    with caplog.at_level(logging.WARNING):
        answers = [call_as(site, GLOBAL, probe) for _ in range(BUDGET + 1)]
    assert answers[:BUDGET] == ["data"] * BUDGET
    assert answers[-1].startswith(TOO_MANY)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis unreachable for per-user throttling" in m for m in messages) == 1
    assert sum("Redis unreachable for the database cap" in m for m in messages) == 1


def test_without_redis_page_loads_are_still_throttled_per_process(
    build: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    # Sign-in needs Redis (its throttle): sign in where Redis works, then carry the session
    # cookie (same secret key) to a process whose Redis is unreachable.
    key = "k" * 64
    working = build(secret_key=key)
    stolen = signed_in(working).get_cookie(COOKIE)
    assert stolen is not None
    cut_off = build(secret_key=key, redis_url=UNREACHABLE).client()
    cut_off.set_cookie(COOKIE, stolen.value)
    with caplog.at_level(logging.WARNING):
        answers = [cut_off.get("/_dash-layout").status_code for _ in range(BUDGET + 1)]
    assert answers == [200] * BUDGET + [429]
    assert any("falling back to in-memory storage" in r.getMessage() for r in caplog.records)


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["lots", "", "0/minute", "10 per fortnight"])
def test_a_malformed_rate_limit_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("NORTHSTAR_RATE_LIMIT", value)
    with pytest.raises(ConfigurationError, match="NORTHSTAR_RATE_LIMIT"):
        load_settings()


def test_the_cap_defaults_to_twice_the_pool(settings: Settings) -> None:
    assert settings.model_copy(update={"db_pool_size": 7}).db_query_cap == 14
    assert settings.model_copy(update={"db_max_concurrent_queries": 3}).db_query_cap == 3
