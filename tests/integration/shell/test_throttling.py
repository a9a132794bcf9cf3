"""Per-user throttling against real PostgreSQL and Redis, over HTTP.

The budget is small in these tests (``4/minute``) so that a handful of requests use it up; a
minute-long window cannot refill during a test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from dashboard.auth.ratelimit import STORAGE_PREFIX
from integration.auth_support import GLOBAL, REGIONAL, Site
from integration.shell.throttling_support import (
    BUDGET,
    TOO_MANY,
    UPDATE,
    access_rows,
    build,
    shown,
    signed_in,
    tiles_body,
)
from models.enums import Outcome
from models.settings import ConfigurationError, load_settings

__all__ = ["build"]  # fixture


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


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["lots", "", "0/minute", "10 per fortnight"])
def test_a_malformed_rate_limit_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("NORTHSTAR_RATE_LIMIT", value)
    with pytest.raises(ConfigurationError, match="NORTHSTAR_RATE_LIMIT"):
        load_settings()
