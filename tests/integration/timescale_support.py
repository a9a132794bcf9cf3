"""Support for the TimescaleDB tests: the server, a fresh migrated database, the oracle.

The server is the one ``NORTHSTAR_TEST_TIMESCALE_URL`` names (a PostgreSQL with the timescaledb
extension preloaded); each test gets a database of its own there. Where the variable is unset,
or the server lacks the extension, the tests are skipped with the reason (never silently).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, pool, text

from models.settings import StorageBackend
from models.storage import timescale, timescale_available
from models.writes import EventRow

from .factories import (
    ROLLUP_TABLES,
    catalog_layout,
    make_catalog,
    migrate_to,
    rollup_differences,
    rollup_rows,
    scratch_database,
    storage_setting,
    stored_rollups,
)

TIMESCALE_URL = "NORTHSTAR_TEST_TIMESCALE_URL"
CATALOG = catalog_layout(children=1)
"""What ``make_catalog`` inserts: two org units, sources orders and tickets."""
MEASURE = {"orders": "amount", "tickets": "minutes"}
"""Per source: the one measure its events here carry."""


def timescale_url() -> str:
    """The TimescaleDB test server's URL (SQLAlchemy form); skips where it is not set."""
    url = os.environ.get(TIMESCALE_URL, "")
    if not url:
        pytest.skip(f"{TIMESCALE_URL} is not set: no TimescaleDB server to test against")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="module")
def server() -> Iterator[Engine]:
    """An autocommit engine on the TimescaleDB test server; skips where it is unusable."""
    admin = create_engine(timescale_url(), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    try:
        with admin.connect() as connection:
            available = timescale_available(connection)
            libraries = connection.execute(
                text("SELECT current_setting('shared_preload_libraries')")
            ).scalar()
        if not available:
            pytest.skip(f"timescaledb is not available on the {TIMESCALE_URL} server")
        if "timescaledb" not in str(libraries):
            pytest.skip("timescaledb is installed but not in shared_preload_libraries")
        yield admin
    finally:
        admin.dispose()


@pytest.fixture
def ts(server: Engine) -> Iterator[Engine]:
    """A fresh database migrated with the TimescaleDB backend, TimescaleDB's jobs paused."""
    with scratch_database(server, "timescale") as engine:
        with storage_setting(StorageBackend.TIMESCALE):
            migrate_to(engine, "head")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT alter_job(job_id, scheduled => false) "
                    "FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL"
                )
            )
        make_catalog(engine, children=1)
        yield engine


def event(source: str, ts: dt.datetime, event_id: str, value: float | None = 1.0) -> EventRow:
    return EventRow(
        ts=ts,
        source_id=CATALOG.sources[source],
        event_id=event_id,
        org_unit_id=CATALOG.units[len(event_id) % 2],
        measures={} if value is None else {MEASURE[source]: value},
    )


def refresh(engine: Engine, now: dt.datetime | None = None) -> timescale.Refreshed:
    """What the refresh job does to the database (without Redis)."""
    return timescale.refresh_pending(engine, now or dt.datetime.now(dt.UTC))


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
    """Every way the rollups differ from an aggregate of ``events`` (values below 1e150)."""
    problems = []
    with engine.connect() as connection:
        for granularity, view in ROLLUP_TABLES.items():
            want = rollup_rows(connection.execute(text(_EXPECTED), {"unit": granularity.value}))
            problems += rollup_differences(view, want, stored_rollups(connection, view))
    return problems


def base_day(days_ago: int = 2) -> dt.datetime:
    """Midnight UTC ``days_ago`` days ago."""
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def materialised_to(engine: Engine) -> dict[str, dt.datetime]:
    """Each view's watermark: where its materialisation ends."""
    with engine.connect() as connection:
        return {name: timescale.watermark(connection, name) for name, _ in timescale.LEVELS}
