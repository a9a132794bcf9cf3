"""Native PostgreSQL storage: day partitions for ``events`` and ``rollup_1m``.

``INSTALL`` is the DDL of migration 0002 for this backend. Change the schema with a new
migration, never by editing it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Connection, text

from models.facts import PARTITIONED_BY_DAY

_ROLLUP_COLUMNS = """
    bucket timestamptz NOT NULL,
    metric_id integer NOT NULL,
    org_unit_id integer NOT NULL,
    n bigint NOT NULL,
    total double precision NOT NULL,
    min_v double precision NOT NULL,
    max_v double precision NOT NULL,
    sum_sq double precision NOT NULL,
    last_ts timestamptz NOT NULL"""

INSTALL: tuple[str, ...] = (
    """
    CREATE TABLE events (
        ts timestamptz NOT NULL,
        source_id integer NOT NULL,
        event_id text NOT NULL,
        org_unit_id integer NOT NULL,
        measures jsonb DEFAULT '{}'::jsonb NOT NULL,
        dims jsonb DEFAULT '{}'::jsonb NOT NULL,
        attrs jsonb DEFAULT '{}'::jsonb NOT NULL,
        ingested_at timestamptz DEFAULT now() NOT NULL,
        CONSTRAINT pk_events PRIMARY KEY (source_id, event_id, ts)
    ) PARTITION BY RANGE (ts)
    """,
    "CREATE INDEX ix_events_source_id_ts ON events (source_id, ts)",
    f"""
    CREATE TABLE rollup_1m ({_ROLLUP_COLUMNS},
        CONSTRAINT pk_rollup_1m PRIMARY KEY (metric_id, bucket, org_unit_id)
    ) PARTITION BY RANGE (bucket)
    """,
    f"""
    CREATE TABLE rollup_1h ({_ROLLUP_COLUMNS},
        CONSTRAINT pk_rollup_1h PRIMARY KEY (metric_id, bucket, org_unit_id)
    )
    """,
    f"""
    CREATE TABLE rollup_1d ({_ROLLUP_COLUMNS},
        CONSTRAINT pk_rollup_1d PRIMARY KEY (metric_id, bucket, org_unit_id)
    )
    """,
)

UNINSTALL: tuple[str, ...] = (
    "DROP TABLE IF EXISTS rollup_1d",
    "DROP TABLE IF EXISTS rollup_1h",
    "DROP TABLE IF EXISTS rollup_1m",
    "DROP TABLE IF EXISTS events",
)

_PARTITION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('northstar.partitions'))"


def partition_name(table: str, day: dt.date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def missing_partitions(
    connection: Connection, days: Iterable[dt.date]
) -> list[tuple[str, dt.date]]:
    """The (table, day) partitions that ``days`` would need and that do not exist yet."""
    wanted = sorted(set(days))
    if not wanted:
        return []
    existing = set(
        connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relname = ANY(:parents)"
            ),
            {"parents": list(PARTITIONED_BY_DAY)},
        ).scalars()
    )
    return [
        (table, day)
        for day in wanted
        for table in PARTITIONED_BY_DAY
        if partition_name(table, day) not in existing
    ]


def ensure_partitions(connection: Connection, days: Iterable[dt.date]) -> list[str]:
    """Create the day partitions of every partitioned fact table for ``days``.

    Idempotent and safe to run from several processes at once (an advisory lock serialises
    creators). Returns the names of partitions it created.
    """
    missing = missing_partitions(connection, days)
    if not missing:
        return []
    connection.execute(text(_PARTITION_LOCK))
    created = []
    for table, day in missing:
        name = partition_name(table, day)
        start, end = _day_bounds(day)
        connection.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
        created.append(name)
    return created
