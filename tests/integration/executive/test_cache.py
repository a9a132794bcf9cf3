"""The answer cache against real PostgreSQL and Redis: isolation, staleness, Redis failures.

The world is the KPI page's (``kpi_support``): a company ``acme`` with regions ``unit2``
(country ``unit2-de``) and ``unit3``; revenue = sum(orders.amount). Grace (global executive) and
Sam (global steward, who may see personal data) share a scope but not a mask level; Elena
(regional executive) shares Grace's mask level but not her scope.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, text
from werkzeug.test import TestResponse

from dashboard.app import create_app
from dashboard.cache import PREFIX, answer_key
from dashboard.shell import live
from ingest import versions
from integration.auth_support import FakeClock
from integration.executive.kpi_support import (
    GLOBAL,
    NOW,
    ORDERS,
    REGIONAL,
    STEWARD,
    World,
    dump,
    kpi_request,
    make_world,
)
from integration.executive.test_overview import tiles_request
from models.permissions import Permission, Principal
from models.queries.executive.numbers import KpiSeries, KpiValue
from models.settings import Settings
from models.writes import EventRow, write_events

UPDATE = "/_dash-update-component"
TAMPERED = 999_999.0
DATA_TABLES = re.compile(r"\b(rollup_1[mhd]|events|quarantine|sources)\b", re.IGNORECASE)
"""What a data read touches; a warm call reads only the user, the KPI and the scope check."""


@pytest.fixture
def world(
    db: Engine, redis_client: redis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    # Answers depend on the minute (period edges, freshness): keep one minute for the test.
    frozen = dt.datetime.now(dt.UTC)
    monkeypatch.setattr(live, "utc_now", lambda: frozen)
    yield from make_world(db, settings)


def cache_keys(client: redis.Redis, name: str = "") -> set[bytes]:
    return set(client.scan_iter(match=f"{PREFIX}{name}*"))


def answer_text(response: TestResponse) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json(), ensure_ascii=False)


def kpi_page(client: FlaskClient, unit: str | None = "unit2", period: str = "7d") -> str:
    """The KPI page's callback answer for revenue, as text."""
    params = {"kpi": "revenue", "unit": unit}
    return answer_text(client.post(UPDATE, json=kpi_request(params, period)))


def overview_page(client: FlaskClient, unit: str = "unit2", period: str = "7d") -> str:
    """The Overview's tiles callback answer, as text."""
    return answer_text(client.post(UPDATE, json=tiles_request(period, unit)))


def cached_flags(engine: Engine, page: str) -> list[tuple[str, bool | None]]:
    """(user e-mail, ``detail.cached``) of each ``access_log`` row of ``page``'s data callback."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT u.email, (a.detail ->> 'cached')::boolean FROM access_log a "
                "JOIN users u ON u.id = a.user_id "
                "WHERE a.page = :page AND a.action <> 'poll_versions' ORDER BY a.id"
            ),
            {"page": page},
        ).all()
    return [(email, cached) for email, cached in rows]


def tamper_values(client: redis.Redis) -> int:
    """Rewrite every cached KPI value (the series' period totals) to :data:`TAMPERED`, keeping
    the entries' keys and TTL."""
    count = 0
    for key in cache_keys(client, "kpi_series_set:"):
        raw = client.get(key)
        assert raw is not None
        values = msgspec.msgpack.decode(raw, type=list[KpiSeries])
        forged = [dataclasses.replace(v, total=TAMPERED) for v in values]
        client.set(key, msgspec.msgpack.encode(forged), keepttl=True)
        count += 1
    return count


PAGES: dict[str, Callable[[FlaskClient], str]] = {"kpi": kpi_page, "overview": overview_page}


# --- isolation: never shared across scopes or mask levels -----------------------------------


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_cached_answer_is_never_served_to_another_scope_or_mask_level(
    world: World, redis_client: redis.Redis, page: str
) -> None:
    show = PAGES[page]
    grace, elena, sam = (world.client(e) for e in (GLOBAL, REGIONAL, STEWARD))
    assert "300.00 EUR" in show(grace)  # unit2's orders: 100 + 200
    entries = len(cache_keys(redis_client, "kpi_series_set:"))
    assert entries
    # Grace's entries now say 999,999: her next answer shows it, so it comes from Redis ...
    assert tamper_values(redis_client) == entries
    assert "999,999.00 EUR" in show(grace)
    # ... but the same question from another scope, or another mask level, never gets it.
    for other in (elena, sam):
        shown = show(other)
        assert "300.00 EUR" in shown
        assert "999,999" not in shown
    # One entry per scope + mask level.
    assert len(cache_keys(redis_client, "kpi_series_set:")) == 3 * entries
    assert cached_flags(world.engine, page) == [
        (GLOBAL, False),
        (GLOBAL, True),
        (REGIONAL, False),
        (STEWARD, False),
    ]


def test_answers_differ_by_scope_where_the_data_does(
    world: World, redis_client: redis.Redis
) -> None:
    grace, elena = world.client(GLOBAL), world.client(REGIONAL)
    assert "410.00 EUR" in kpi_page(grace, unit=None)  # the company: unit2 and unit3
    # Elena's default unit is her region; Grace's cached company figures never reach her.
    regional = kpi_page(elena, unit=None)
    assert "Revenue · UNIT2" in regional
    assert "300.00 EUR" in regional
    assert "410.00" not in regional
    assert "UNIT3" not in regional
    # Asking for the company itself is still refused, cache or not.
    assert "no such org unit in your scope" in kpi_page(elena, unit="acme")


# --- staleness ------------------------------------------------------------------------------


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent through ``engine`` inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def write_order(world: World, event_id: str, amount: float, *, bump: bool) -> None:
    """An order in unit2-de a minute ago; ``bump`` as the ingest drain does after commit."""
    services = world.app.extensions["northstar"]
    row = EventRow(NOW - dt.timedelta(minutes=1), ORDERS, event_id, 4, {"amount": amount})
    written = write_events(services.engine, [row])
    assert written.changed_metric_ids
    if bump:
        versions.bump(services.redis, written.changed_metric_ids)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_a_warm_call_reads_no_data_and_a_bump_brings_new_data_at_once(
    world: World, page: str
) -> None:
    show, grace = PAGES[page], world.client(GLOBAL)
    engine = world.app.extensions["northstar"].engine
    with statements(engine) as cold:
        assert "300.00 EUR" in show(grace)
    assert any(DATA_TABLES.search(s) for s in cold)
    # Written but not announced: the warm call does not go to the data at all.
    write_order(world, "late-1", 50.0, bump=False)
    with statements(engine) as warm:
        assert "300.00 EUR" in show(grace)
    assert warm, "the user check and access_log still use PostgreSQL"
    assert not [s for s in warm if DATA_TABLES.search(s)]
    # Written and bumped (what ingest does after each commit): the next call shows it.
    write_order(world, "late-2", 25.0, bump=True)
    assert "375.00 EUR" in show(grace)
    assert cached_flags(world.engine, page) == [(GLOBAL, False), (GLOBAL, True), (GLOBAL, False)]


def entry_counts(client: redis.Redis) -> dict[str, int]:
    names = ("kpi_series_set", "kpi_breakdown", "source_facts", "kpi_lineage")
    return {name: len(cache_keys(client, name + ":")) for name in names}


def test_a_bump_of_another_metric_recomputes_only_the_source_wide_answers(
    world: World, redis_client: redis.Redis
) -> None:
    grace = world.client(GLOBAL)
    kpi_page(grace)
    before = entry_counts(redis_client)
    assert before == {
        "kpi_series_set": 2,  # this period and the previous one
        "kpi_breakdown": 2,
        "source_facts": 1,
        "kpi_lineage": 1,
    }
    versions.bump(redis_client, [5])  # tickets.minutes: revenue does not read it
    kpi_page(grace)
    # Revenue's numbers are served as they were; freshness and lineage, which depend on every
    # source's newest data, are read again.
    assert entry_counts(redis_client) == before | {"source_facts": 2, "kpi_lineage": 2}


def test_a_live_stream_leaves_the_settled_periods_cached_and_a_late_event_does_not(
    world: World, redis_client: redis.Redis
) -> None:
    """Revenue (metric 3) over the last 7 days and the 7 days before: a batch of current
    events moves only the first; a batch with events before this hour moves both."""
    grace = world.client(GLOBAL)
    kpi_page(grace)
    before = entry_counts(redis_client)
    versions.bump(redis_client, [3])  # current events only
    kpi_page(grace)
    assert entry_counts(redis_client) == before | {
        "kpi_series_set": 3,  # this period's series read again, the previous one not
        "kpi_breakdown": 3,
        "source_facts": 2,
        "kpi_lineage": 2,
    }
    versions.bump(redis_client, [3], closed_ids=[3])  # a late event of revenue
    kpi_page(grace)
    assert entry_counts(redis_client) == before | {
        "kpi_series_set": 5,
        "kpi_breakdown": 5,
        "source_facts": 3,
        "kpi_lineage": 3,
    }


# --- Redis failures and switching the cache off ---------------------------------------------


def app_world(world: World, settings: Settings, **changes: Any) -> World:
    app = create_app(settings.model_copy(update=changes), clock=FakeClock())
    return World(app, world.engine, world.user_ids)


def test_an_unreachable_cache_redis_still_answers(
    world: World, settings: Settings, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    down = app_world(world, settings, cache_redis_url="redis://127.0.0.1:1/0")
    try:
        with caplog.at_level(logging.WARNING, logger="dashboard.cache.answers"):
            for _ in range(2):
                assert "300.00 EUR" in kpi_page(down.client(GLOBAL))
    finally:
        down.app.extensions["northstar"].close()
    assert "answer cache" in caplog.text
    assert "failed" in caplog.text
    assert not cache_keys(redis_client)
    assert cached_flags(world.engine, "kpi") == [(GLOBAL, False), (GLOBAL, False)]


def test_an_unreachable_redis_for_versions_and_answers_still_answers(
    world: World, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Sign-in itself needs Redis (its throttle), so the callback is called as a function.
    from dashboard.executive.pages import kpi

    down = app_world(world, settings, redis_url="redis://127.0.0.1:1/0")
    try:
        with caplog.at_level(logging.WARNING), down.signed_in(GLOBAL):
            result = kpi.kpi_view({"kpi": "revenue", "unit": "unit2"}, "7d", "auto")
    finally:
        down.app.extensions["northstar"].close()
    assert not result.detail_hidden
    assert "300.00 EUR" in dump(result.head)
    assert "on the data versions Redis failed" in caplog.text
    assert result.watch is not None  # the page will refresh once Redis answers again


def test_a_ttl_of_zero_turns_the_cache_off(
    world: World, settings: Settings, redis_client: redis.Redis
) -> None:
    off = app_world(world, settings, cache_ttl_s=0)
    try:
        client = off.client(GLOBAL)
        for _ in range(2):
            assert "300.00 EUR" in kpi_page(client)
    finally:
        off.app.extensions["northstar"].close()
    assert not cache_keys(redis_client)
    assert cached_flags(world.engine, "kpi") == [(GLOBAL, False), (GLOBAL, False)]


def test_a_corrupt_entry_is_recomputed_not_shown(world: World, redis_client: redis.Redis) -> None:
    grace = world.client(GLOBAL)
    kpi_page(grace)
    for key in cache_keys(redis_client):
        redis_client.set(key, b"\xc1 not msgpack", keepttl=True)
    assert "300.00 EUR" in kpi_page(grace)
    assert cached_flags(world.engine, "kpi") == [(GLOBAL, False), (GLOBAL, False)]
    assert "300.00 EUR" in kpi_page(grace)  # rewritten by the recomputation
    assert cached_flags(world.engine, "kpi")[-1] == (GLOBAL, True)


# --- the key itself -------------------------------------------------------------------------


def test_the_key_carries_scope_mask_level_versions_and_parameters_canonically() -> None:
    executive = frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW})
    grace = Principal(1, executive, ("1.2", "1.3"))

    def key(principal: Principal = grace, params: Any = None, dv: int = 7) -> str:
        chosen = {"unit": 2, "period": ["2024-01-01T00:00", "2024-01-02T00:00"]}
        return answer_key("kpi_values", list[KpiValue], params or chosen, principal, {"m:3": dv})

    # Another user with the same grants (in another order) and the same mask level shares it.
    assert key(Principal(2, executive, ("1.3", "1.2"))) == key()
    assert key(params={"period": ["2024-01-01T00:00", "2024-01-02T00:00"], "unit": 2}) == key()
    different = {
        key(Principal(1, executive, ("1.2",))),  # narrower scope
        key(Principal(1, executive | {Permission.PII_VIEW}, ("1.2", "1.3"))),  # sees pii
        key(Principal(1, frozenset({Permission.KPI_VIEW}), ("1.2", "1.3"))),  # masked more
        key(params={"unit": 3, "period": ["2024-01-01T00:00", "2024-01-02T00:00"]}),
        key(dv=8),  # new data
    }
    assert key() not in different
    assert len(different) == 5
    assert key().startswith(f"{PREFIX}kpi_values:")
