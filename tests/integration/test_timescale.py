"""TimescaleDB backend: hypertables, continuous aggregates, policies, writes and retention.

Each test migrates a database of its own with ``NORTHSTAR_STORAGE=timescale``. Where the
server lacks the extension, every test here is skipped with the reason (never silently).
The background policy jobs are paused in these databases so that what is materialised, and
when, is decided by the test alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from models.settings import Settings, StorageBackend
from models.storage import timescale, timescale_available
from models.storage.maintenance import run_maintenance
from models.writes import EventRow, WriteResult, write_events

from .factories import (
    ROLLUP_TABLES,
    admin_engine,
    all_rollups,
    catalog_layout,
    make_catalog,
    migrate_to,
    rollup_differences,
    rollup_rows,
    scratch_database,
    storage_setting,
    stored_rollups,
)

pytestmark = pytest.mark.timescale

CATALOG = catalog_layout(children=1)
"""What ``make_catalog`` inserts: two org units, sources orders and tickets."""
MEASURE = {"orders": "amount", "tickets": "minutes"}
"""Per source: the one measure its events here carry."""


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Engine]:
    """An autocommit connection pool to the test server; skips where TimescaleDB is missing."""
    with admin_engine(settings) as admin:
        with admin.connect() as connection:
            available = timescale_available(connection)
            preloaded = "timescaledb" in str(
                connection.execute(
                    text("SELECT current_setting('shared_preload_libraries')")
                ).scalar()
            )
        if not available:
            pytest.skip("timescaledb is not in pg_available_extensions on this PostgreSQL server")
        if not preloaded:
            pytest.skip("timescaledb is installed but not in shared_preload_libraries")
        yield admin


@pytest.fixture
def ts(server: Engine) -> Iterator[Engine]:
    """A fresh database migrated with the TimescaleDB backend, its policy jobs paused."""
    with scratch_database(server, "timescale") as engine:
        with storage_setting(StorageBackend.TIMESCALE):
            migrate_to(engine, "head")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT alter_job(job_id, scheduled => false) "
                    "FROM timescaledb_information.jobs WHERE proc_name LIKE 'policy_%'"
                )
            )
        make_catalog(engine, children=1)
        yield engine


def set_retention(engine: Engine, days: dict[str, int]) -> None:
    with engine.begin() as connection:
        for key, value in days.items():
            connection.execute(
                text("UPDATE sources SET retention_days = :days WHERE key = :key"),
                {"days": value, "key": key},
            )


def event(source: str, ts: dt.datetime, event_id: str, value: float | None = 1.0) -> EventRow:
    return EventRow(
        ts=ts,
        source_id=CATALOG.sources[source],
        event_id=event_id,
        org_unit_id=CATALOG.units[len(event_id) % 2],
        measures={} if value is None else {MEASURE[source]: value},
    )


# The expectation is computed from ``events`` with date_trunc, not time_bucket: a different
# route to the same UTC buckets, so the two cannot share a mistake.
_EXPECTED = """
SELECT date_trunc(:unit, e.ts, 'UTC') AS bucket, m.id, e.org_unit_id, count(*),
       sum(v.v), min(v.v), max(v.v), sum(v.v * v.v), max(e.ts)
FROM events e
JOIN metrics m ON m.source_id = e.source_id
 AND (m.measure IS NULL OR jsonb_exists(e.measures, m.measure))
CROSS JOIN LATERAL (
    SELECT CASE WHEN m.measure IS NULL THEN 1.0
                ELSE (e.measures ->> m.measure)::double precision END AS v
) v
GROUP BY 1, 2, 3
"""


def rollup_mismatches(engine: Engine) -> list[str]:
    problems = []
    with engine.connect() as connection:
        for granularity, view in ROLLUP_TABLES.items():
            want = rollup_rows(connection.execute(text(_EXPECTED), {"unit": granularity.value}))
            problems += rollup_differences(view, want, stored_rollups(connection, view))
    return problems


def base_day() -> dt.datetime:
    """Midnight UTC two days ago: recent enough for every refresh window."""
    today = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    return dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)


def test_migration_installs_hypertables_continuous_aggregates_and_policies(ts: Engine) -> None:
    with ts.connect() as connection:
        backend = connection.execute(
            text("SELECT value FROM storage_meta WHERE key = 'backend'")
        ).scalar_one()
        hypertables = set(
            connection.execute(
                text("SELECT hypertable_name FROM timescaledb_information.hypertables")
            ).scalars()
        )
        caggs = dict(
            connection.execute(
                text(
                    "SELECT view_name, materialized_only "
                    "FROM timescaledb_information.continuous_aggregates"
                )
            ).all()
        )
        jobs = dict(
            connection.execute(
                text(
                    "SELECT proc_name, count(*) FROM timescaledb_information.jobs "
                    "WHERE proc_name LIKE 'policy_%' GROUP BY proc_name"
                )
            ).all()
        )
    assert backend == StorageBackend.TIMESCALE.value
    assert {"events", "metric_values"} <= hypertables
    assert caggs == {"rollup_1m": False, "rollup_1h": False, "rollup_1d": False}
    assert jobs == {
        "policy_refresh_continuous_aggregate": 3,
        "policy_compression": 2,
        "policy_retention": 2,
    }


def test_rollups_equal_the_events_live_and_once_materialised(ts: Engine) -> None:
    t0 = base_day()
    first = [
        event("orders", t0 + dt.timedelta(hours=23, minutes=59, seconds=59), "a", 5.0),
        event("orders", t0 + dt.timedelta(days=1), "b", -2.5),  # next day, next partition
        event("orders", t0 + dt.timedelta(hours=1), "c", None),  # measure missing
        event("tickets", t0 + dt.timedelta(minutes=59, seconds=59), "d", 7.0),
    ]
    duplicate = first[0]
    second = [duplicate, event("tickets", t0 + dt.timedelta(minutes=1), "e", 3.0), duplicate]

    tickets = {CATALOG.metric("tickets"), CATALOG.metric("tickets", "minutes")}
    # Both sources' counts, orders' amount (a, b) and tickets' minutes (d).
    fed = {CATALOG.metric("orders"), CATALOG.metric("orders", "amount"), *tickets}
    assert write_events(ts, first) == WriteResult(4, frozenset(fed))
    assert write_events(ts, second) == WriteResult(1, frozenset(tickets))
    assert write_events(ts, first) == WriteResult(0, frozenset())  # a retried batch

    assert rollup_mismatches(ts) == []  # real-time aggregation, nothing materialised yet
    timescale.refresh(ts, None, None)
    assert rollup_mismatches(ts) == []  # materialised

    late = event("orders", t0 + dt.timedelta(minutes=30), "late", 11.0)
    assert write_events(ts, [late]).new_rows == 1
    timescale.refresh_late_data(ts, 35)
    assert rollup_mismatches(ts) == []


def test_a_retried_batch_changes_no_rollup(ts: Engine) -> None:
    t0 = base_day()
    batch = [event("orders", t0 + dt.timedelta(hours=h), f"r{h}", float(h)) for h in (1, 2, 3)]
    write_events(ts, batch)
    timescale.refresh(ts, None, None)
    before = all_rollups(ts)

    assert write_events(ts, batch) == WriteResult(0, frozenset())
    timescale.refresh(ts, None, None)
    assert all_rollups(ts) == before


def test_maintenance_applies_each_sources_retention(ts: Engine, settings: Settings) -> None:
    set_retention(ts, {"orders": 10, "tickets": 30})
    now = dt.datetime.now(dt.UTC)
    rows = [
        event(source, now - dt.timedelta(days=age), f"{source}-{age}")
        for source in CATALOG.sources
        for age in (40, 20, 1)
    ]
    write_events(ts, rows)

    report = run_maintenance(ts, settings, now)
    again = run_maintenance(ts, settings, now)

    with ts.connect() as connection:
        kept = set(connection.execute(text("SELECT event_id FROM events")).scalars())
        retention_jobs = connection.execute(
            text(
                "SELECT count(*) FROM timescaledb_information.jobs "
                "WHERE proc_name = 'policy_retention'"
            )
        ).scalar_one()
    assert report.backend is StorageBackend.TIMESCALE
    assert report.dropped  # the chunk of 40 days ago
    assert report.deleted_events == {CATALOG.sources["orders"]: 1}  # orders-20
    assert kept == {"orders-1", "tickets-20", "tickets-1"}
    assert (again.dropped, again.deleted_total) == ((), 0)
    assert retention_jobs == 2  # replaced, never piled up


def test_downgrade_removes_the_timescale_objects(ts: Engine) -> None:
    migrate_to(ts, "0001", down=True)

    with ts.connect() as connection:
        left = set(
            connection.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relname IN "
                    "('events', 'metric_values', 'rollup_1m', 'rollup_1h', 'rollup_1d')"
                )
            ).scalars()
        )
    assert left == set()
