"""Live refresh through HTTP: the poll stays silent until the data or the minute moves, the pages
re-read only then (the KPI trend as a patch of its data), and forged or anonymous polls fail.

The world is the KPI page's (``kpi_support``): revenue reads orders.amount (metric 3), the
"load" KPI orders.count and tickets.count (metrics 1 and 2); nothing shown reads metric 5.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dashboard.app import create_app
from dashboard.shell import live
from ingest import versions
from integration.auth_support import FakeClock, page_request
from integration.executive.kpi_support import GLOBAL, REGIONAL, World, kpi_request, make_world
from integration.executive.test_overview import tiles_request
from models.settings import Settings

UPDATE = "/_dash-update-component"
REVENUE_METRIC, UNSHOWN_METRIC = 3, 5
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")


class Clock:
    """The pages' and the poll's current time, moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    made = Clock()
    monkeypatch.setattr(live, "utc_now", made)
    return made


@pytest.fixture
def world(
    db: Engine, redis_client: redis.Redis, settings: Settings, clock: Clock
) -> Iterator[World]:
    yield from make_world(db, settings)


def poll_request(page: str, watch: Any, seen: Any = None, ticks: Any = 1) -> dict[str, Any]:
    """The body the browser posts when the page's interval fires."""
    ids = live.LiveIds.for_page(page)
    return {
        "output": f"{ids.token}.data",
        "outputs": {"id": ids.token, "property": "data"},
        "inputs": [{"id": ids.interval, "property": "n_intervals", "value": ticks}],
        "changedPropIds": [f"{ids.interval}.n_intervals"],
        "state": [
            {"id": ids.watch, "property": "data", "value": watch},
            {"id": ids.token, "property": "data", "value": seen},
        ],
    }


def poll(client: FlaskClient, page: str, watch: Any, seen: Any = None) -> str | None:
    """The new token, or None when the poll answered "nothing changed" (``no_update``: Dash
    answers 204, or 200 with no output in the response)."""
    response = client.post(UPDATE, json=poll_request(page, watch, seen))
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_json()
    if body == {"multi": True, "response": {}}:
        return None
    token_id = live.LiveIds.for_page(page).token
    assert body == {
        "multi": True,
        "response": {token_id: {"data": body["response"][token_id]["data"]}},
    }
    token = body["response"][token_id]["data"]
    assert TOKEN.match(token), token  # opaque: no version, metric or unit in it
    return str(token)


def overview_watch(client: FlaskClient, token: Any = None) -> str:
    """Render the Overview's tiles (unit2, last 7 days); the watch state it stores."""
    response = client.post(UPDATE, json=tiles_request("7d", "unit2", token))
    assert response.status_code == 200
    watch = response.get_json()["response"]["overview-live-watch"]["data"]
    assert isinstance(watch, str)
    return watch


def poll_log(engine: Engine) -> list[tuple[str, str]]:
    """(page, outcome) of each ``access_log`` row of the poll."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT page, outcome::text FROM access_log "
                "WHERE action = 'poll_versions' ORDER BY id"
            )
        ).all()
    return [(page, outcome) for page, outcome in rows]


def test_the_poll_is_silent_until_the_data_or_the_minute_moves(
    world: World, redis_client: redis.Redis, clock: Clock
) -> None:
    grace = world.client(GLOBAL)
    watch = overview_watch(grace)
    assert poll(grace, "overview", watch) is None
    versions.bump(redis_client, [UNSHOWN_METRIC])  # data no tile reads
    assert poll(grace, "overview", watch) is None
    versions.bump(redis_client, [REVENUE_METRIC])
    token = poll(grace, "overview", watch)
    assert token is not None
    # The browser now holds the token: no second refresh for the same change ...
    assert poll(grace, "overview", watch, seen=token) is None
    # ... and the tiles re-read with it store what they were read at.
    watch = overview_watch(grace, token)
    assert poll(grace, "overview", watch, seen=token) is None
    # A new minute moves period edges and freshness: the page refreshes then too.
    clock.now += dt.timedelta(minutes=1)
    assert poll(grace, "overview", watch, seen=token) is not None
    # Answered polls return no business data: they are not written to access_log.
    assert poll_log(world.engine) == []


def test_anonymous_polls_are_refused(world: World) -> None:
    watch = overview_watch(world.client(GLOBAL))
    response = world.client().post(UPDATE, json=poll_request("overview", watch))
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


def test_forged_polls_are_refused_and_logged(world: World) -> None:
    grace, elena = world.client(GLOBAL), world.client(REGIONAL)
    watch = overview_watch(grace)
    body, signature = watch.split(".")
    forged = [
        "x",
        f"{body}.{signature[:-2]}AA",  # altered signature
        f"{body[:-4]}AAAA.{signature}",  # altered state
        {"metrics": [1, 2, 3]},
        [watch],
        10**30,
        "." * 5000,
        "x" * 10_000,
    ]
    for value in forged:
        assert poll(grace, "overview", value) is None
    # Another user's state, and a state of another page, are refused too.
    assert poll(elena, "overview", watch) is None
    assert poll(grace, "kpi", watch) is None
    logged = poll_log(world.engine)
    assert len(logged) == len(forged) + 2
    assert {outcome for _, outcome in logged} == {"denied"}


def test_the_poll_needs_kpi_view(world: World, db: Engine) -> None:
    grace = world.client(GLOBAL)
    watch = overview_watch(grace)
    with db.begin() as connection:
        connection.execute(text("DELETE FROM user_roles"))
    assert poll(grace, "overview", watch) is None
    assert poll_log(world.engine) == [("overview", "denied")]


def test_polls_spend_the_request_budget_and_a_throttled_poll_is_logged(
    world: World, settings: Settings
) -> None:
    budget = {"rate_limit": "4/minute", "rate_limit_enabled": True}
    app = create_app(settings.model_copy(update=budget), clock=FakeClock())
    try:
        grace = World(app, world.engine, world.user_ids).client(GLOBAL)
        watch = overview_watch(grace)  # one unit of the budget
        for _ in range(3):
            assert poll(grace, "overview", watch) is None
        assert poll_log(world.engine) == []
        # The fifth request of the minute is over budget: refused, logged, with Retry-After.
        response = grace.post(UPDATE, json=poll_request("overview", watch))
    finally:
        app.extensions["northstar"].close()
    assert response.status_code in (200, 204)
    assert int(response.headers["Retry-After"]) >= 1
    assert poll_log(world.engine) == [("overview", "throttled")]


def kpi_answer(client: FlaskClient, **request: Any) -> dict[str, Any]:
    response = client.post(UPDATE, json=kpi_request({"kpi": "revenue", "unit": "unit2"}, **request))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    answer: dict[str, Any] = response.get_json()["response"]
    return answer


def test_a_live_refresh_of_the_kpi_page_patches_only_the_trend_data(
    world: World, redis_client: redis.Redis
) -> None:
    grace = world.client(GLOBAL)
    first = kpi_answer(grace)
    figure = first["kpi-trend-graph"]["figure"]
    assert figure["layout"]["template"]  # the full figure, once
    watch = first["kpi-live-watch"]["data"]
    versions.bump(redis_client, [REVENUE_METRIC])
    token = poll(grace, "kpi", watch)
    assert token is not None
    live_refresh = {"token": token, "watch": watch, "changed": "kpi-live-token.data"}
    refreshed = kpi_answer(grace, **live_refresh)
    patch = refreshed["kpi-trend-graph"]["figure"]
    assert patch["__dash_patch_update"] == "__dash_patch_update"
    [operation] = patch["operations"]
    assert operation["location"] == ["data"]
    assert [t["name"] for t in operation["params"]["value"]] == [t["name"] for t in figure["data"]]
    assert "layout" not in str(patch)
    assert refreshed["kpi-live-watch"]["data"] != watch
    # A user's own change of period, or a state that does not match, redraws in full.
    other = kpi_answer(grace, period="30d", **live_refresh | {"changed": "kpi-period.value"})
    assert "layout" in other["kpi-trend-graph"]["figure"]
    forged = kpi_answer(grace, **live_refresh | {"watch": "forged"})
    assert "layout" in forged["kpi-trend-graph"]["figure"]


def test_the_pages_wire_the_poll_to_their_data_callbacks(world: World) -> None:
    dependencies = world.client(GLOBAL).get("/_dash-dependencies").get_json()
    for page, data_output in (("overview", "overview-grid.children"), ("kpi", "kpi-head.children")):
        ids = live.LiveIds.for_page(page)
        [data] = [d for d in dependencies if data_output in d["output"]]
        assert {"id": ids.token, "property": "data"} in data["inputs"]
        assert f"{ids.watch}.data" in data["output"]
        [poller] = [d for d in dependencies if d["output"] == f"{ids.token}.data"]
        assert poller["inputs"] == [{"id": ids.interval, "property": "n_intervals"}]


def interval_of(client: FlaskClient, pathname: str, prefix: str) -> dict[str, Any]:
    body = client.post(UPDATE, json=page_request(pathname)).get_data(as_text=True)
    found = re.search(r'\{[^{}]*"id":"' + prefix + r'-live-interval"[^{}]*\}', body)
    assert found is not None, body[:300]
    props: dict[str, Any] = json.loads(found.group(0))
    return props


@pytest.mark.parametrize(("poll_ms", "disabled"), [(5000, False), (1500, False), (0, True)])
def test_the_poll_interval_comes_from_the_settings(
    world: World, settings: Settings, poll_ms: int, disabled: bool
) -> None:
    app = create_app(settings.model_copy(update={"live_poll_ms": poll_ms}), clock=FakeClock())
    try:
        client = World(app, world.engine, world.user_ids).client(GLOBAL)
        for pathname, prefix in (("/", "overview"), ("/kpi/revenue", "kpi")):
            props = interval_of(client, pathname, prefix)
            assert props["disabled"] is disabled
            if not disabled:
                assert props["interval"] == poll_ms
    finally:
        app.extensions["northstar"].close()
