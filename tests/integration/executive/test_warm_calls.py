"""A warm page call needs no database, and caching the scope checks keeps them correct.

The world is the KPI page's (``kpi_support``): a company ``acme`` (path 1) with regions
``unit2`` (1.2, with the country ``unit2-de``, 1.2.4) and ``unit3`` (1.3); Grace sees the
company, Elena ``unit2``. Revenue reads orders.amount (metric 3).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dashboard.auth.dbcap import Lease, QuerySlots
from dashboard.auth.policy import QUERY_SLOTS_KEY
from dashboard.shell import live
from ingest import versions
from integration.executive.kpi_support import GLOBAL, REGIONAL, World, make_world
from integration.executive.test_cache import (
    PAGES,
    cache_keys,
    cached_flags,
    kpi_page,
    overview_page,
    statements,
)
from models.settings import Settings

REVENUE_METRIC = 3
READ_ONLY = "SET TRANSACTION READ ONLY"
REFUSED = "no such org unit in your scope"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(second=5)

    def __call__(self) -> dt.datetime:
        return self.now


class CountingSlots:
    """The app's real database cap, counting the slots taken."""

    def __init__(self, slots: QuerySlots) -> None:
        self.inner = slots
        self.taken = 0

    def slot(self) -> AbstractContextManager[Lease]:
        self.taken += 1
        return self.inner.slot()


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


@pytest.fixture
def slots(world: World) -> CountingSlots:
    counting = CountingSlots(world.app.extensions[QUERY_SLOTS_KEY])
    world.app.extensions[QUERY_SLOTS_KEY] = counting
    return counting


def app_engine(world: World) -> Engine:
    engine: Engine = world.app.extensions["northstar"].engine
    return engine


def session_check(world: World, client: FlaskClient) -> list[str]:
    """The statements of a request that reads nothing but the signed-in user."""
    with statements(app_engine(world)) as seen:
        assert client.get("/_dash-dependencies").status_code == 200
    return seen


def split_log(seen: list[str]) -> tuple[list[str], list[str]]:
    logged = [s for s in seen if s.startswith("INSERT INTO access_log")]
    return [s for s in seen if s not in logged], logged


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_warm_call_sends_only_the_session_check_and_its_access_log_row(
    world: World, slots: CountingSlots, page: str
) -> None:
    show, grace = PAGES[page], world.client(GLOBAL)
    with statements(app_engine(world)) as cold:
        assert "300.00 EUR" in show(grace)
    assert slots.taken == 1  # one read transaction for every answer it computed
    assert sum(READ_ONLY in s for s in cold) == 2  # the session check's and the call's
    with statements(app_engine(world)) as warm:
        assert "300.00 EUR" in show(grace)
    reads, logged = split_log(warm)
    assert reads == session_check(world, grace)
    assert len(logged) == 1
    assert slots.taken == 1  # no slot, no pooled connection, no transaction for the call
    assert cached_flags(world.engine, page) == [(GLOBAL, False), (GLOBAL, True)]


def test_a_call_opens_its_read_transaction_once_at_the_first_miss(
    world: World, redis_client: redis.Redis, slots: CountingSlots
) -> None:
    grace = world.client(GLOBAL)
    kpi_page(grace)
    versions.bump(redis_client, [REVENUE_METRIC])  # revenue's numbers must be read again
    with statements(app_engine(world)) as seen:
        assert "300.00 EUR" in kpi_page(grace)
    reads, _ = split_log(seen)
    assert sum(READ_ONLY in s for s in reads) == 2  # the session check's and one for the call
    assert slots.taken == 2
    # The KPI definition and the asked unit (by its key) still came from the cache; each
    # number read again re-checks its unit against the live scope in SQL (the query layer's).
    assert not [s for s in reads if s.startswith("SELECT id, key, name, description, formula")]
    unit_reads = [s for s in reads if "FROM org_units u WHERE" in s]
    assert unit_reads
    assert all("ANY(CAST(" in s and "u.key =" not in s for s in unit_reads)


def test_a_refused_unit_is_checked_against_the_database_every_time(
    world: World, redis_client: redis.Redis
) -> None:
    elena = world.client(REGIONAL)
    for _ in range(2):
        with statements(app_engine(world)) as seen:
            assert REFUSED in overview_page(elena, unit="unit3")
        assert [s for s in seen if "FROM org_units" in s]
    assert not cache_keys(redis_client, "scope_unit")
    assert "300.00 EUR" in overview_page(elena, unit="unit2")
    assert len(cache_keys(redis_client, "scope_unit")) == 1


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_grant_taken_away_applies_at_once_despite_a_cached_scope_check(
    world: World, db: Engine, page: str
) -> None:
    show, grace = PAGES[page], world.client(GLOBAL)
    assert "300.00 EUR" in show(grace)  # unit2, within her company-wide grant
    with db.begin() as connection:
        connection.execute(
            text("UPDATE user_scopes SET org_unit_id = 3 WHERE user_id = :u"),
            {"u": world.user_ids[GLOBAL]},
        )
    refused = show(grace)  # the same minute: unit2's resolution for the company scope is cached
    assert REFUSED in refused
    assert "300.00" not in refused


def test_an_org_chart_change_reaches_the_page_within_the_minute(
    world: World, db: Engine, clock: Clock
) -> None:
    grace = world.client(GLOBAL)
    assert "Revenue · UNIT2" in kpi_page(grace)
    with db.begin() as connection:
        connection.execute(text("UPDATE org_units SET name = 'Region Two' WHERE key = 'unit2'"))
    assert "Revenue · UNIT2" in kpi_page(grace)  # cached for the minute
    clock.now += dt.timedelta(minutes=1)
    assert "Revenue · Region Two" in kpi_page(grace)


def move_country_to_unit3(db: Engine) -> None:
    with db.begin() as connection:
        connection.execute(
            text("UPDATE org_units SET parent_id = 3, path = '1.3.4' WHERE key = 'unit2-de'")
        )


def test_a_unit_moved_out_of_scope_yields_no_new_numbers(
    world: World, db: Engine, redis_client: redis.Redis, clock: Clock
) -> None:
    elena = world.client(REGIONAL)
    assert "300.00 EUR" in kpi_page(elena, unit="unit2-de")
    move_country_to_unit3(db)
    # Within the minute the cached resolution and the answers read before the move stand ...
    assert "300.00 EUR" in kpi_page(elena, unit="unit2-de")
    # ... but any number that must be read again is read against the live scope: refused.
    versions.bump(redis_client, [REVENUE_METRIC])
    refused = kpi_page(elena, unit="unit2-de")
    assert REFUSED in refused
    assert "EUR" not in refused.replace("Revenue", "")
    clock.now += dt.timedelta(minutes=1)
    assert REFUSED in kpi_page(elena, unit="unit2-de")


def test_redis_round_trips_of_a_warm_call(world: World) -> None:
    """Answers are looked up in batches: a few MGETs, not one GET per answer."""
    grace = world.client(GLOBAL)
    kpi_page(grace)
    overview_page(grace)
    store = world.app.extensions["northstar.cache"]
    commands: list[str] = []
    original = store.answers.client.execute_command

    def counted(*args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return original(*args, **options)

    store.answers.client.execute_command = counted
    try:
        for show in (kpi_page, overview_page):
            commands.clear()
            show(grace)
            assert commands == ["MGET", "MGET", "MGET"], show.__name__
    finally:
        store.answers.client.execute_command = original
