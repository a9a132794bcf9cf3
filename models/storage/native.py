"""Native PostgreSQL storage: day partitions of ``events`` and ``rollup_1m``, and retention.

``INSTALL`` is the DDL of migration 0002 for this backend. Change the schema with a new
migration, never by editing it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

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

EVENTS_TABLE = """
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
    )"""
"""``CREATE TABLE events`` without storage clauses; the TimescaleDB backend shares it."""


def _rollup_table(name: str, storage: str = "") -> str:
    return f"""
    CREATE TABLE {name} ({_ROLLUP_COLUMNS},
        CONSTRAINT pk_{name} PRIMARY KEY (metric_id, bucket, org_unit_id)
    ){storage}
    """


# Built from pieces, but the text each statement produces is what 0002 ran: keep it unchanged.
INSTALL: tuple[str, ...] = (
    f"""{EVENTS_TABLE} PARTITION BY RANGE (ts)
    """,
    "CREATE INDEX ix_events_source_id_ts ON events (source_id, ts)",
    _rollup_table("rollup_1m", " PARTITION BY RANGE (bucket)"),
    _rollup_table("rollup_1h"),
    _rollup_table("rollup_1d"),
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
    existing = set(_attached_partitions(connection, PARTITIONED_BY_DAY))
    return [
        (table, day)
        for day in wanted
        for table in PARTITIONED_BY_DAY
        if partition_name(table, day) not in existing
    ]


class PartitionRefused(ValueError):
    """A day partition outside the allowed days was asked for (an event time out of range)."""


def ensure_partitions(
    connection: Connection,
    days: Iterable[dt.date],
    *,
    allowed: tuple[dt.date, dt.date] | None = None,
) -> list[str]:
    """Create the day partitions of every partitioned fact table for ``days``.

    Idempotent and safe to run from several processes at once (an advisory lock serialises
    creators). Returns the names of partitions it created.

    Raises:
        PartitionRefused: a day lies outside ``allowed`` (first and last day, inclusive):
            a partition there would never be dropped by retention, or cannot exist at all.
    """
    wanted = sorted(set(days))
    if allowed is not None:
        outside = [day for day in wanted if not allowed[0] <= day <= allowed[1]]
        if outside:
            raise PartitionRefused(
                f"no partition is made for {outside[0].isoformat()}: event days must lie "
                f"between {allowed[0].isoformat()} and {allowed[1].isoformat()}"
            )
    if not missing_partitions(connection, wanted):
        return []
    connection.execute(text(_PARTITION_LOCK))
    created = []
    # Look again under the lock: another process may have created some while we waited.
    for table, day in missing_partitions(connection, wanted):
        name = partition_name(table, day)
        start, end = _day_bounds(day)
        connection.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
        created.append(name)
    return created


_PARTITION_NAME = re.compile(r"^(?P<table>[a-z0-9_]+)_p(?P<day>\d{8})$")


def existing_partitions(connection: Connection, table: str) -> list[tuple[str, dt.date]]:
    """The day partitions of ``table`` as (name, UTC day), oldest first.

    Only partitions named by :func:`partition_name` are listed: a partition someone attached
    by hand is never touched by retention.
    """
    found = []
    for name in _attached_partitions(connection, (table,)):
        match = _PARTITION_NAME.match(name)
        if match and match["table"] == table:
            found.append((name, dt.datetime.strptime(match["day"], "%Y%m%d").date()))
    return sorted(found, key=lambda item: item[1])


def drop_partition(engine: Engine, table: str, name: str, lock_timeout_ms: int) -> bool:
    """Detach partition ``name`` from ``table``, then drop it, each in a short transaction.

    Detaching takes an exclusive lock on the parent; ``lock_timeout_ms`` bounds the wait so
    maintenance never queues behind a long query and stalls every writer behind it. Returns
    False (and leaves the partition alone) when the lock was not granted in time.
    """
    try:
        with engine.begin() as connection:
            _set_lock_timeout(connection, lock_timeout_ms)
            connection.execute(text(_PARTITION_LOCK))
            # Another maintenance run may have detached it since we listed it.
            if name in _attached_partitions(connection, (table,)):
                connection.exec_driver_sql(f"ALTER TABLE {table} DETACH PARTITION {name}")
    except OperationalError as exc:
        if isinstance(exc.orig, psycopg.errors.LockNotAvailable):
            return False
        raise
    # Nothing reaches a detached partition through its parent any more: no lock wait here,
    # and no timeout that could leave it detached but undropped.
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    return True


def _attached_partitions(connection: Connection, parents: Iterable[str]) -> list[str]:
    """Names of the partitions currently attached to any of ``parents``."""
    return list(
        connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relname = ANY(:parents)"
            ),
            {"parents": list(parents)},
        ).scalars()
    )


def _set_lock_timeout(connection: Connection, timeout_ms: int) -> None:
    connection.execute(
        text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": str(int(timeout_ms))}
    )
