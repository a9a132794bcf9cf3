"""The database cap against real PostgreSQL and Redis, and both limits (the cap and the
per-user budget) falling back to per-process ones when Redis is unreachable."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
import redis
from sqlalchemy import Engine

from dashboard.auth.dbcap import DatabaseBusy, QuerySlots
from dashboard.auth.policy import BUSY, QUERY_SLOTS_KEY
from integration.auth_support import COOKIE, GLOBAL, Site, page_request
from integration.shell.throttling_support import (
    BUDGET,
    TOO_MANY,
    UNREACHABLE,
    UPDATE,
    access_rows,
    build,
    call_as,
    holding_a_slot,
    probe,
    shown,
    signed_in,
    tiles_body,
)
from models.enums import Outcome
from models.settings import Settings

__all__ = ["build"]  # fixture


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


def test_the_cap_defaults_to_twice_the_pool(settings: Settings) -> None:
    assert settings.model_copy(update={"db_pool_size": 7}).db_query_cap == 14
    assert settings.model_copy(update={"db_max_concurrent_queries": 3}).db_query_cap == 3
