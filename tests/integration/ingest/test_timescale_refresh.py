"""TimescaleDB: what Northstar's refresh materialises, and that nothing goes missing.

The continuous aggregates are materialised only by ``timescale.refresh_pending`` (the refresh
job), never by TimescaleDB's scheduler. These tests pin down: history and backfill stay
visible once materialised, late events show after the next refresh, the open minute, hour
and day are never materialised, an overflowing square breaks nothing, and the job bumps the
data versions after it refreshed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text

from ingest import refresh as refresh_job
from ingest import versions
from ingest.runtime import Services
from integration.timescale_support import (
    CATALOG,
    base_day,
    event,
    materialised_to,
    refresh,
    rollup_mismatches,
    server,
    ts,
)
from models.settings import Settings
from models.writes import write_events

pytestmark = pytest.mark.timescale
__all__ = ["server", "ts"]  # fixtures

AMOUNT = CATALOG.metric("orders", "amount")
ORDERS = CATALOG.metric("orders")


def hours_with_orders(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM rollup_1h WHERE metric_id = :m AND n > 0"),
                {"m": ORDERS},
            ).scalar_one()
        )


def test_thirty_days_of_history_stay_visible_once_materialised(ts: Engine) -> None:
    start = base_day(30)
    hours = range(720)
    history = [event("orders", start + dt.timedelta(hours=h), f"h{h}", float(h)) for h in hours]
    write_events(ts, history)

    refresh(ts)
    # A second, later refresh: the first run of a refresh policy used to hide all this.
    refresh(ts, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))

    assert hours_with_orders(ts) == 720
    assert rollup_mismatches(ts) == []


@pytest.mark.parametrize("days_old", [3, 10, 32, 60])
def test_a_late_event_shows_in_every_rollup_after_the_next_refresh(
    ts: Engine, days_old: int
) -> None:
    now = dt.datetime.now(dt.UTC)
    at = now - dt.timedelta(days=days_old)
    write_events(ts, [event("orders", at, "before", 2.0)])
    refresh(ts, now)
    assert all(mark > at for mark in materialised_to(ts).values())  # the bucket is materialised

    write_events(ts, [event("orders", at + dt.timedelta(seconds=1), "late", 5.0)])
    done = refresh(ts, now)

    assert rollup_mismatches(ts) == []
    assert set(done.oldest) == {ORDERS, AMOUNT}
    assert done.oldest[ORDERS] == at + dt.timedelta(seconds=1)


def test_the_open_minute_hour_and_day_are_never_materialised(ts: Engine) -> None:
    now = dt.datetime.now(dt.UTC).replace(second=30, microsecond=0)
    write_events(ts, [event("orders", now - dt.timedelta(seconds=20), "first", 1.0)])
    refresh(ts, now)

    marks = materialised_to(ts)
    assert marks["rollup_1m"] <= now.replace(second=0)
    assert marks["rollup_1h"] <= now.replace(minute=0, second=0)
    assert marks["rollup_1d"] <= now.replace(hour=0, minute=0, second=0)
    # A later event of the same minute shows at once, without another refresh.
    write_events(ts, [event("orders", now - dt.timedelta(seconds=10), "second", 2.0)])
    assert rollup_mismatches(ts) == []


def test_a_value_whose_square_overflows_is_stored_refreshed_and_read(ts: Engine) -> None:
    at = base_day(3) + dt.timedelta(hours=5)
    write_events(ts, [event("orders", at, "huge", 1e200), event("orders", at, "tiny", 1.0)])
    refresh(ts)
    write_events(ts, [event("orders", at + dt.timedelta(seconds=5), "more", 2.0)])
    refresh(ts)  # refreshing the bucket again must not fail either

    with ts.connect() as connection:
        rows = {
            view: connection.execute(
                text(f"SELECT n, total, sum_sq FROM {view} WHERE metric_id = :m"), {"m": AMOUNT}
            ).one()
            for view in ("rollup_1m", "rollup_1h", "rollup_1d")
        }
    assert rows["rollup_1d"].n == 3
    assert math.isclose(rows["rollup_1d"].total, 1e200)
    assert all(math.isinf(row.sum_sq) for row in rows.values())


@pytest.fixture
def services(ts: Engine, settings: Settings, redis_client: redis.Redis) -> Iterator[Services]:
    url = ts.url.render_as_string(hide_password=False)
    built = Services(settings.model_copy(update={"database_url": url}))
    yield built
    built.close()


def test_the_refresh_job_bumps_the_versions_of_what_it_folded_in(services: Services) -> None:
    engine = services.engine
    now = dt.datetime.now(dt.UTC)
    write_events(engine, [event("orders", now - dt.timedelta(days=2), "early", 1.0)])
    refresh_job.refresh_and_bump(services)
    before = versions.current(services.redis, [ORDERS, AMOUNT])
    closed = services.redis.get(versions.closed_metric_key(ORDERS))

    write_events(engine, [event("orders", now - dt.timedelta(days=2, seconds=1), "late", 4.0)])
    report = refresh_job.refresh_and_bump(services)

    after = versions.current(services.redis, [ORDERS, AMOUNT])
    assert report == {"backend": "timescale", "metrics": 2}
    assert all(after[m] == before[m] + 1 for m in (ORDERS, AMOUNT))
    assert int(services.redis.get(versions.closed_metric_key(ORDERS)) or 0) == int(closed or 0) + 1
    assert rollup_mismatches(engine) == []
    # Nothing queued: nothing bumped.
    assert refresh_job.refresh_and_bump(services)["metrics"] == 0
