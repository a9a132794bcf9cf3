"""Per-user throttling and the database cap: the app built with a small budget (``4/minute``,
so that a handful of requests use it up; a minute-long window cannot refill during a test), a
guarded probe read, and the helpers their tests (and the web-hardening tests) share."""

from __future__ import annotations

import threading
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
from dashboard.auth.policy import CallContext, UserFacingError, guarded_callback
from dashboard.auth.ratelimit import STORAGE_PREFIX
from integration.auth_support import GLOBAL, FakeClock, Site, add_users, sign_in
from models.enums import Outcome
from models.logs import AccessLog
from models.queries.principals import load_account
from models.settings import Settings

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
