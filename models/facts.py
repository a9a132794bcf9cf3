"""The fact tables: raw ``events`` and the ``rollup_1m/1h/1d`` aggregates.

They are Core tables, not ORM classes: only ``models.writes``, ``models.storage`` and
``models.queries`` touch them, always in bulk. The native backend partitions ``events`` and
``rollup_1m`` by day; the TimescaleDB backend replaces them (see ``models.storage``).
There are deliberately no foreign keys here: a per-row trigger would halve ingest speed, and
the ingest pipeline checks every reference before it writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from models.base import metadata
from models.enums import Granularity

events = Table(
    "events",
    metadata,
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("source_id", Integer, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("org_unit_id", Integer, nullable=False),
    Column("measures", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("dims", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("attrs", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("ingested_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # Identity is (source_id, event_id, ts); ordered by time so inserts append (migration 0004).
    PrimaryKeyConstraint("source_id", "ts", "event_id"),
    postgresql_partition_by="RANGE (ts)",
)


def _rollup(name: str, partitioned: bool) -> Table:
    extra: dict[str, Any] = {"postgresql_partition_by": "RANGE (bucket)"} if partitioned else {}
    return Table(
        name,
        metadata,
        Column("bucket", DateTime(timezone=True), nullable=False),
        Column("metric_id", Integer, nullable=False),
        Column("org_unit_id", Integer, nullable=False),
        Column("n", BigInteger, nullable=False),
        Column("total", Float, nullable=False),
        Column("min_v", Float, nullable=False),
        Column("max_v", Float, nullable=False),
        Column("sum_sq", Float, nullable=False),
        Column("last_ts", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("metric_id", "bucket", "org_unit_id"),
        **extra,
    )


rollup_1m = _rollup("rollup_1m", partitioned=True)
rollup_1h = _rollup("rollup_1h", partitioned=False)
rollup_1d = _rollup("rollup_1d", partitioned=False)

ROLLUPS: dict[Granularity, Table] = {
    Granularity.MINUTE: rollup_1m,
    Granularity.HOUR: rollup_1h,
    Granularity.DAY: rollup_1d,
}
rollup_refresh_pending = Table(
    "rollup_refresh_pending",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("lo", DateTime(timezone=True), nullable=False),
    Column("hi", DateTime(timezone=True), nullable=False),
    Column("metric_ids", ARRAY(Integer), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)
"""TimescaleDB backend: the event time range and metrics of each committed write, until a
refresh has folded them into the materialised rollups (``models.storage.timescale``). The
native backend never writes it: its rollups change in the write's own transaction."""

BUCKET_WIDTH: dict[Granularity, timedelta] = {
    Granularity.MINUTE: timedelta(minutes=1),
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(days=1),
}
PARTITIONED_BY_DAY = ("events", "rollup_1m")
"""Tables the native backend partitions by UTC day (names ``<table>_pYYYYMMDD``)."""

storage_meta = Table(
    "storage_meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
"""Facts about the installed storage, e.g. ``backend`` = ``native`` | ``timescale``."""

data_versions = Table(
    "data_versions",
    metadata,
    Column("name", Text, primary_key=True),
    Column("version", BigInteger, nullable=False),
)
"""The durable data versions (``ingest.versions``): raised in the drain's write transaction,
so they can never lag the data; Redis holds a copy the dashboard's cache keys read."""


SQUARE_LIMIT = 1e150
"""Squares of values at or beyond this magnitude are stored as +Infinity in ``sum_sq``."""


def square(value: str) -> str:
    """SQL for ``value``'s square as a double that never overflows: +Infinity past the limit.

    ``v * v`` raises "value out of range: overflow" for ``|v|`` above about 1.3e154, which
    would fail the write, every later refresh and every read of that bucket's ``sum_sq``; a
    variance of such values is meaningless anyway. Below the limit, a sum of squares would need
    1e8 of them to reach the double's range.
    """
    return (
        f"CASE WHEN abs({value}) < {SQUARE_LIMIT:.0e} THEN {value} * {value} "
        "ELSE 'Infinity'::double precision END"
    )
