"""TimescaleDB backend: hypertables, continuous aggregates, policies, writes and retention.

Each test migrates a database of its own with ``NORTHSTAR_STORAGE=timescale`` on the server
``NORTHSTAR_TEST_TIMESCALE_URL`` names. Where it is unset, or the server lacks the extension,
every test here is skipped with the reason (never silently). TimescaleDB's own policy jobs
(columnstore, retention) are paused in these databases so that the test alone decides what
happens when; materialising is Northstar's refresh (``timescale.refresh_pending``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text

from integration.factories import (
    all_rollups,
    make_catalog,
    migrate_to,
    scratch_database,
    storage_setting,
)
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
from models.settings import Settings, StorageBackend
from models.storage.maintenance import run_maintenance
from models.writes import WriteResult, write_events

pytestmark = pytest.mark.timescale
__all__ = ["server", "ts"]  # fixtures


def set_retention(engine: Engine, days: dict[str, int]) -> None:
    with engine.begin() as connection:
        for key, value in days.items():
            connection.execute(
                text("UPDATE sources SET retention_days = :days WHERE key = :key"),
                {"days": value, "key": key},
            )


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
                    # Only the jobs on our hypertables: TimescaleDB has jobs of its own.
                    "SELECT proc_name, count(*) FROM timescaledb_information.jobs "
                    "WHERE hypertable_name IS NOT NULL GROUP BY proc_name"
                )
            ).all()
        )
    assert backend == StorageBackend.TIMESCALE.value
    assert {"events", "metric_values"} <= hypertables
    assert caggs == {"rollup_1m": False, "rollup_1h": False, "rollup_1d": False}
    # No refresh policies: Northstar's refresh job materialises (docs/storage.md).
    assert jobs == {
        "policy_compression": 2,
        "policy_retention": 1,  # rollup_1m; metric_values is kept
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
    refresh(ts)
    assert rollup_mismatches(ts) == []  # materialised

    late = event("orders", t0 + dt.timedelta(minutes=30), "late", 11.0)
    assert write_events(ts, [late]).new_rows == 1
    refresh(ts)
    assert rollup_mismatches(ts) == []


def test_a_retried_batch_changes_no_rollup(ts: Engine) -> None:
    t0 = base_day()
    batch = [event("orders", t0 + dt.timedelta(hours=h), f"r{h}", float(h)) for h in (1, 2, 3)]
    write_events(ts, batch)
    refresh(ts)
    before = all_rollups(ts)

    assert write_events(ts, batch) == WriteResult(0, frozenset())
    refresh(ts)
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
    assert retention_jobs == 1  # replaced, never piled up


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


def test_upgrading_an_install_of_0002_materialises_the_values_it_holds(server: Engine) -> None:
    with scratch_database(server, "upgrade") as engine:
        with storage_setting(StorageBackend.TIMESCALE):
            migrate_to(engine, "0008")
        make_catalog(engine, children=1)
        t0 = base_day(20)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO metric_values (ts, metric_id, org_unit_id, v) "
                    "SELECT :t0 + make_interval(hours => h), :m, :u, h "
                    "FROM generate_series(0, 99) h"
                ),
                {"t0": t0, "m": CATALOG.metric("orders"), "u": CATALOG.units[0]},
            )
        with storage_setting(StorageBackend.TIMESCALE):
            migrate_to(engine, "head")
        refresh(engine)

        with engine.connect() as connection:
            hours, total = connection.execute(
                text("SELECT count(*), sum(total) FROM rollup_1h WHERE metric_id = :m"),
                {"m": CATALOG.metric("orders")},
            ).one()
        assert (hours, total) == (100, sum(range(100)))
        assert materialised_to(engine)["rollup_1h"] > t0 + dt.timedelta(hours=99)
