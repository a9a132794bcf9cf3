"""TimescaleDB backend: hypertables, continuous aggregates, policies, writes and retention.

Each test migrates a database of its own with ``NORTHSTAR_STORAGE=timescale``. Where the
server lacks the extension, every test here is skipped with the reason (never silently).
The background policy jobs are paused in these databases so that what is materialised, and
when, is decided by the test alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, pool, text
from sqlalchemy.engine import make_url

from models import migrate
from models.settings import Settings, StorageBackend, get_settings
from models.storage import timescale, timescale_available
from models.storage.maintenance import run_maintenance
from models.writes import EventRow, WriteResult, write_events

pytestmark = pytest.mark.timescale

ROLLUPS = {"minute": "rollup_1m", "hour": "rollup_1h", "day": "rollup_1d"}
UNITS = (1, 2)
SOURCES = {"orders": 1, "tickets": 2}
COUNT_METRIC = {"orders": 1, "tickets": 2}
MEASURE = {"orders": ("amount", 3), "tickets": ("minutes", 4)}


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Engine]:
    """An autocommit connection pool to the test server; skips where TimescaleDB is missing."""
    admin = create_engine(
        settings.sqlalchemy_url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool
    )
    with admin.connect() as connection:
        available = timescale_available(connection)
        preloaded = "timescaledb" in str(
            connection.execute(text("SELECT current_setting('shared_preload_libraries')")).scalar()
        )
    if not available:
        admin.dispose()
        pytest.skip("timescaledb is not in pg_available_extensions on this PostgreSQL server")
    if not preloaded:
        admin.dispose()
        pytest.skip("timescaledb is installed but not in shared_preload_libraries")
    yield admin
    admin.dispose()


@pytest.fixture
def ts(server: Engine, settings: Settings) -> Iterator[Engine]:
    """A fresh database migrated with the TimescaleDB backend, its policy jobs paused."""
    url = make_url(settings.sqlalchemy_url)
    name = f"{(url.database or '').removesuffix('_test')}_timescale_test"
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_engine(url.set(database=name), poolclass=pool.NullPool)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("NORTHSTAR_STORAGE", "timescale")
            get_settings.cache_clear()
            migrate_to(engine, "head")
        get_settings.cache_clear()
        with engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT alter_job(job_id, scheduled => false) "
                    "FROM timescaledb_information.jobs WHERE proc_name LIKE 'policy_%'"
                )
            )
        make_catalog(engine)
        yield engine
    finally:
        get_settings.cache_clear()
        engine.dispose()
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def make_catalog(engine: Engine, retention_days: dict[str, int] | None = None) -> None:
    """Two org units; sources orders and tickets, each with an event count and one measure."""
    retention = retention_days or {}
    with engine.begin() as connection:
        for unit in UNITS:
            connection.execute(
                text(
                    "INSERT INTO org_units (id, key, name, level, path) "
                    "VALUES (:id, :key, :name, 'company', CAST(:path AS ltree))"
                ),
                {"id": unit, "key": f"u{unit}", "name": f"Unit {unit}", "path": str(unit)},
            )
        for key, source_id in SOURCES.items():
            connection.execute(
                text(
                    "INSERT INTO sources (id, key, name, owner_unit_id, refresh_mode, "
                    "freshness_sla_s, retention_days) "
                    "VALUES (:id, :key, :name, 1, 'streaming', 300, :days)"
                ),
                {"id": source_id, "key": key, "name": key.title(), "days": retention.get(key, 90)},
            )
            measure, measure_metric = MEASURE[key]
            for metric_id, name in ((COUNT_METRIC[key], None), (measure_metric, measure)):
                connection.execute(
                    text(
                        "INSERT INTO metrics (id, key, source_id, measure, name) "
                        "VALUES (:id, :key, :source, :measure, :name)"
                    ),
                    {
                        "id": metric_id,
                        "key": f"{key}.{name}",
                        "name": f"{key} {name}",
                        "source": source_id,
                        "measure": name,
                    },
                )


def set_retention(engine: Engine, days: dict[str, int]) -> None:
    with engine.begin() as connection:
        for key, value in days.items():
            connection.execute(
                text("UPDATE sources SET retention_days = :days WHERE key = :key"),
                {"days": value, "key": key},
            )


def event(source: str, ts: dt.datetime, event_id: str, value: float | None = 1.0) -> EventRow:
    measure, _ = MEASURE[source]
    return EventRow(
        ts=ts,
        source_id=SOURCES[source],
        event_id=event_id,
        org_unit_id=UNITS[len(event_id) % 2],
        measures={} if value is None else {measure: value},
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

Rows = dict[tuple[dt.datetime, int, int], tuple[int, float, float, float, float, dt.datetime]]


_STORED = (
    "SELECT bucket, metric_id, org_unit_id, n, total, min_v, max_v, sum_sq, last_ts FROM {view}"
)


def _rows(result: Iterable[Sequence[Any]]) -> Rows:
    return {(r[0], r[1], r[2]): (int(r[3]), r[4], r[5], r[6], r[7], r[8]) for r in result}


def stored(engine: Engine, view: str) -> Rows:
    with engine.connect() as connection:
        return _rows(connection.execute(text(_STORED.format(view=view))))


def rollup_mismatches(engine: Engine) -> list[str]:
    problems = []
    with engine.connect() as connection:
        for unit, view in ROLLUPS.items():
            want = _rows(connection.execute(text(_EXPECTED), {"unit": unit}))
            have = _rows(connection.execute(text(_STORED.format(view=view))))
            if want.keys() != have.keys():
                problems.append(f"{view}: keys differ: {want.keys() ^ have.keys()}")
            for key in want.keys() & have.keys():
                w, h = want[key], have[key]
                floats = all(
                    math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
                    for a, b in zip(w[1:5], h[1:5], strict=True)
                )
                if not (w[0] == h[0] and w[5] == h[5] and floats):
                    problems.append(f"{view} {key}: want {w}, have {h}")
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

    # Both sources' counts, orders' amount (a, b) and tickets' minutes (d).
    assert write_events(ts, first) == WriteResult(4, frozenset({1, 2, 3, 4}))
    assert write_events(ts, second) == WriteResult(1, frozenset({2, 4}))
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
    before = {view: stored(ts, view) for view in ROLLUPS.values()}

    assert write_events(ts, batch) == WriteResult(0, frozenset())
    timescale.refresh(ts, None, None)
    assert {view: stored(ts, view) for view in ROLLUPS.values()} == before


def test_maintenance_applies_each_sources_retention(ts: Engine, settings: Settings) -> None:
    set_retention(ts, {"orders": 10, "tickets": 30})
    now = dt.datetime.now(dt.UTC)
    rows = [
        event(source, now - dt.timedelta(days=age), f"{source}-{age}")
        for source in SOURCES
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
    assert report.deleted_events == {SOURCES["orders"]: 1}  # orders-20
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
