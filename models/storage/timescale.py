"""TimescaleDB storage: hypertables, continuous aggregates with their policies, and retention.

Written against TimescaleDB 2.28 (the last line for PostgreSQL 15). ``events`` is a hypertable
of one-day chunks with the columns and key of the native table. A continuous aggregate cannot
unnest the ``measures`` map, so :data:`WRITE` also inserts one narrow row per (new event,
metric) into the hypertable ``metric_values``; ``rollup_1m`` is a real-time continuous
aggregate over it, ``rollup_1h`` and ``rollup_1d`` are hierarchical ones on top, with the
columns of ``models.facts``. Buckets are UTC: ``time_bucket`` on ``timestamptz`` without a
time zone argument cuts in UTC.

``INSTALL`` (migration 0002) and ``REBUILD`` (0009) run inside the migration's transaction,
which is why every continuous aggregate is created ``WITH NO DATA`` (``WITH DATA`` refuses to
run in a transaction block). Nothing relies on TimescaleDB's job scheduler for freshness: each
write queues its range in ``rollup_refresh_pending`` and Northstar's refresh job
(``ingest.jobs.refresh_rollups``) materialises the closed buckets with
:func:`refresh_pending`, then bumps the data versions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from models.facts import square
from models.storage.native import EVENTS_TABLE

CHUNK_INTERVAL = "1 day"
REFRESH_WINDOW_DAYS = 7
"""The window of the refresh policies migration 0002 created (0009 removed them)."""
METRIC_VALUES_RETENTION_DAYS = 40
"""Migration 0002's retention of ``metric_values``; 0009 removed it (every level reads it)."""
DEFAULT_ROLLUP_1M_RETENTION_DAYS = 35
"""What INSTALL sets; maintenance then applies ``settings.rollup_1m_retention_days``."""
MIN_ROLLUP_1M_RETENTION_DAYS = 8
"""Retention of ``rollup_1m`` is never set shorter (minute series of the last week)."""
COLUMNSTORE_AFTER_DAYS = 7
LEVELS = (("rollup_1m", "minute"), ("rollup_1h", "hour"), ("rollup_1d", "day"))
"""Each continuous aggregate and the unit of its buckets, in refresh order."""

_EVENTS = f"""{EVENTS_TABLE}
"""
_METRIC_VALUES = """
    CREATE TABLE metric_values (
        ts timestamptz NOT NULL,
        metric_id integer NOT NULL,
        org_unit_id integer NOT NULL,
        v double precision NOT NULL
    )
"""


def _cagg(name: str, width: str, select: str, source: str, time_column: str) -> str:
    bucket = f"time_bucket(INTERVAL '{width}', {time_column})"
    return f"""
    CREATE MATERIALIZED VIEW {name}
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT {bucket} AS bucket, metric_id, org_unit_id,
           {select}
    FROM {source}
    GROUP BY {bucket}, metric_id, org_unit_id
    WITH NO DATA
    """


# As migration 0002 created them; 0009 replaced them with the ``_FROM_VALUES`` below.
_FROM_VALUES_0002 = (
    "count(*) AS n, sum(v) AS total, min(v) AS min_v, max(v) AS max_v, "
    "sum(v * v) AS sum_sq, max(ts) AS last_ts"
)
_FROM_VALUES = (
    "count(*) AS n, sum(v) AS total, min(v) AS min_v, max(v) AS max_v, "
    f"sum({square('v')}) AS sum_sq, max(ts) AS last_ts"
)
# Hierarchical: counts and sums add up, extremes take the extreme, last_ts the latest.
_FROM_ROLLUP = (
    "sum(n)::bigint AS n, sum(total) AS total, min(min_v) AS min_v, max(max_v) AS max_v, "
    "sum(sum_sq) AS sum_sq, max(last_ts) AS last_ts"
)


def _refresh_policy(name: str, end_offset: str, every: str) -> str:
    return (
        f"SELECT add_continuous_aggregate_policy('{name}', "
        f"start_offset => INTERVAL '{REFRESH_WINDOW_DAYS} days', "
        f"end_offset => INTERVAL '{end_offset}', schedule_interval => INTERVAL '{every}')"
    )


def _caggs(from_values: str) -> tuple[str, ...]:
    """Migration 0002's hierarchical aggregates: 1h on 1m, 1d on 1h."""
    return (
        _cagg("rollup_1m", "1 minute", from_values, "metric_values", "ts"),
        _cagg("rollup_1h", "1 hour", _FROM_ROLLUP, "rollup_1m", "bucket"),
        _cagg("rollup_1d", "1 day", _FROM_ROLLUP, "rollup_1h", "bucket"),
    )


def _flat_caggs() -> tuple[str, ...]:
    """Migration 0009's aggregates: every level straight from ``metric_values``.

    Not hierarchical, because an hour recomputed from ``rollup_1m`` after retention dropped its
    minutes would lose them: with every level on ``metric_values``, which is kept, any bucket
    can be refreshed at any age, so a late event of any age reaches every rollup.
    """
    return tuple(
        _cagg(name, f"1 {unit}", _FROM_VALUES, "metric_values", "ts") for name, unit in LEVELS
    )


INSTALL: tuple[str, ...] = (
    "CREATE EXTENSION IF NOT EXISTS timescaledb",
    _EVENTS,
    "CREATE INDEX ix_events_source_id_ts ON events (source_id, ts)",
    f"SELECT create_hypertable('events', by_range('ts', INTERVAL '{CHUNK_INTERVAL}'), "
    "create_default_indexes => false)",
    _METRIC_VALUES,
    f"SELECT create_hypertable('metric_values', by_range('ts', INTERVAL '{CHUNK_INTERVAL}'))",
    "CREATE INDEX ix_metric_values_metric_id_ts ON metric_values (metric_id, ts)",
    # Columnstore (formerly "compression"): old chunks are read far more than written.
    "ALTER TABLE events SET (timescaledb.enable_columnstore = true, "
    "timescaledb.segmentby = 'source_id', timescaledb.orderby = 'ts DESC, event_id')",
    "ALTER TABLE metric_values SET (timescaledb.enable_columnstore = true, "
    "timescaledb.segmentby = 'metric_id', timescaledb.orderby = 'ts DESC')",
    f"CALL add_columnstore_policy('events', after => INTERVAL '{COLUMNSTORE_AFTER_DAYS} days')",
    "CALL add_columnstore_policy('metric_values', "
    f"after => INTERVAL '{COLUMNSTORE_AFTER_DAYS} days')",
    *_caggs(_FROM_VALUES_0002),
    _refresh_policy("rollup_1m", "1 minute", "1 minute"),
    _refresh_policy("rollup_1h", "1 hour", "5 minutes"),
    _refresh_policy("rollup_1d", "1 day", "1 hour"),
    "SELECT add_retention_policy('metric_values', "
    f"drop_after => INTERVAL '{METRIC_VALUES_RETENTION_DAYS} days')",
    "SELECT add_retention_policy('rollup_1m', "
    f"drop_after => INTERVAL '{DEFAULT_ROLLUP_1M_RETENTION_DAYS} days')",
    # Raw events have no retention policy: their retention is per source and changes with the
    # sources table, so maintenance applies it (see models.storage.maintenance).
)

_DROP_CAGGS = (
    "DROP MATERIALIZED VIEW IF EXISTS rollup_1d",
    "DROP MATERIALIZED VIEW IF EXISTS rollup_1h",
    "DROP MATERIALIZED VIEW IF EXISTS rollup_1m",
)
_ROLLUP_1M_RETENTION = (
    "SELECT add_retention_policy('rollup_1m', "
    f"drop_after => INTERVAL '{DEFAULT_ROLLUP_1M_RETENTION_DAYS} days')"
)

REBUILD: tuple[str, ...] = (
    *_DROP_CAGGS,
    *_flat_caggs(),
    _ROLLUP_1M_RETENTION,
    # metric_values is what every level is refreshed from: kept (columnstore after 7 days).
    "SELECT remove_retention_policy('metric_values', if_exists => true)",
    # Everything still in metric_values is queued once: the next refresh job materialises it.
    "INSERT INTO rollup_refresh_pending (lo, hi, metric_ids) "
    "SELECT min(ts), max(ts), array_agg(DISTINCT metric_id ORDER BY metric_id) "
    "FROM metric_values HAVING count(*) > 0",
)
"""Migration 0009: every level on ``metric_values`` (kept from now on), an overflow-proof
``sum_sq`` and no refresh policies (Northstar's refresh job materialises them; see
:func:`refresh_pending`). Rebuilding starts empty, so hours and days older than what
``metric_values`` held (40 days under 0002) are not carried over."""

REBUILD_DOWN: tuple[str, ...] = (
    *_DROP_CAGGS,
    "SELECT add_retention_policy('metric_values', "
    f"drop_after => INTERVAL '{METRIC_VALUES_RETENTION_DAYS} days')",
    *_caggs(_FROM_VALUES_0002),
    _refresh_policy("rollup_1m", "1 minute", "1 minute"),
    _refresh_policy("rollup_1h", "1 hour", "5 minutes"),
    _refresh_policy("rollup_1d", "1 day", "1 hour"),
    _ROLLUP_1M_RETENTION,
)

FEED_TABLES = ["metric_values"]
"""Tables only this backend has (outside ``models.facts``), which tests empty too."""

# Dropping a continuous aggregate or hypertable removes its policies and chunks with it. The
# extension stays: it may have been there before us, and other databases may rely on it.
UNINSTALL: tuple[str, ...] = (
    "DROP MATERIALIZED VIEW IF EXISTS rollup_1d",
    "DROP MATERIALIZED VIEW IF EXISTS rollup_1h",
    "DROP MATERIALIZED VIEW IF EXISTS rollup_1m",
    "DROP TABLE IF EXISTS metric_values",
    "DROP TABLE IF EXISTS events",
)

# Run after the batch was COPYed into ``staging_events``. Only rows that were new come back
# from the insert, so only they reach metric_values: a retried event is never counted twice.
# The continuous aggregates read the values in real time above their watermark; the range and
# metrics of the write are queued in rollup_refresh_pending for the refresh job, which folds
# them into the materialised buckets below it (see :func:`refresh_pending`).
WRITE = """
WITH new AS (
    INSERT INTO events (ts, source_id, event_id, org_unit_id, measures, dims, attrs)
    SELECT ts, source_id, event_id, org_unit_id, measures, dims, attrs FROM staging_events
    ON CONFLICT DO NOTHING
    RETURNING ts, source_id, org_unit_id, measures
),
vals AS (
    INSERT INTO metric_values (ts, metric_id, org_unit_id, v)
    SELECT new.ts, m.id, new.org_unit_id,
           CASE WHEN m.measure IS NULL THEN 1.0
                ELSE (new.measures ->> m.measure)::double precision END
    FROM new
    JOIN metrics m ON m.source_id = new.source_id
     AND (m.measure IS NULL OR new.measures ? m.measure)
    RETURNING ts, metric_id
),
touched AS (
    INSERT INTO rollup_refresh_pending (lo, hi, metric_ids)
    SELECT min(ts), max(ts), array_agg(DISTINCT metric_id ORDER BY metric_id) FROM vals
    HAVING count(*) > 0
    RETURNING metric_ids
)
SELECT (SELECT count(*) FROM new),
       coalesce((SELECT metric_ids FROM touched), '{}'::integer[])
"""


def drop_expired_event_chunks(connection: Connection, older_than: dt.datetime) -> list[str]:
    """Drop the ``events`` chunks whose every row is older than ``older_than``; their names."""
    return list(
        connection.execute(
            text(
                "SELECT drop_chunks('events', older_than => CAST(:older_than AS timestamptz))::text"
            ),
            {"older_than": older_than},
        ).scalars()
    )


def set_rollup_1m_retention(connection: Connection, days: int) -> int:
    """Make the ``rollup_1m`` retention policy drop after ``days`` (clamped); returns the days.

    The policy is replaced rather than edited: ``remove`` then ``add`` are the documented calls,
    and both run inside the caller's transaction.
    """
    kept = max(days, MIN_ROLLUP_1M_RETENTION_DAYS)
    connection.execute(text("SELECT remove_retention_policy('rollup_1m', if_exists => true)"))
    connection.execute(
        text("SELECT add_retention_policy('rollup_1m', drop_after => make_interval(days => :d))"),
        {"d": kept},
    )
    return kept


_REFRESH_LOCK = 0x4E535246
"""Advisory lock key: one refresh at a time (concurrent refreshes of a view conflict)."""


def _closed_end(now: dt.datetime, unit: str) -> dt.datetime:
    """The start of ``now``'s open bucket: refreshes stop there, the open bucket stays live."""
    utc = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    if unit != "minute":
        utc = utc.replace(minute=0)
    return utc.replace(hour=0) if unit == "day" else utc


_WATERMARK = """
SELECT greatest(_timescaledb_functions.to_timestamp(
    _timescaledb_functions.cagg_watermark(c.mat_hypertable_id)), TIMESTAMPTZ '1970-01-01Z')
FROM _timescaledb_catalog.continuous_agg c
WHERE c.user_view_schema = current_schema() AND c.user_view_name = :name
"""


def watermark(connection: Connection, name: str) -> dt.datetime:
    """Where ``name``'s materialisation ends: below it reads are served from it."""
    value: dt.datetime = connection.execute(text(_WATERMARK), {"name": name}).scalar_one()
    return value


def refresh_closed(connection: Connection, now: dt.datetime) -> None:
    """Materialise every closed bucket of each level, up to the start of its open bucket;
    ``connection`` autocommits.

    The window is unbounded below: TimescaleDB recomputes only the invalidated buckets (a late
    event's, of any age) and those above the watermark, so this is cheap when little changed,
    and the watermark never moves past buckets that were never materialised (which would then
    read as empty). The open minute, hour and day stay real-time.
    """
    for name, unit in LEVELS:
        connection.execute(
            text(f"CALL refresh_continuous_aggregate('{name}', NULL, CAST(:end AS timestamptz))"),
            {"end": _closed_end(now, unit)},
        )


@dataclass(frozen=True, slots=True)
class Refreshed:
    """What a refresh changed: per metric, the oldest event time of its pending writes that
    reached below the materialisation (late events); writes above it were visible already."""

    oldest: Mapping[int, dt.datetime]


def refresh_pending(engine: Engine, now: dt.datetime) -> Refreshed:
    """Fold the queued writes into the materialised rollups, then forget them.

    The pending rows are read first and deleted only after the refresh succeeded, so a
    failed refresh leaves them for the next run; a write committed meanwhile keeps its row.
    One refresh runs at a time (a session advisory lock). The caller bumps the data versions
    of the metrics returned, after this returns: the rollups have changed by then.
    """
    with engine.connect() as connection:
        auto = connection.execution_options(isolation_level="AUTOCOMMIT")
        auto.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _REFRESH_LOCK})
        try:
            pending = auto.execute(
                text("SELECT id, lo, metric_ids FROM rollup_refresh_pending ORDER BY id")
            ).all()
            # The finest level's watermark is the highest: a write entirely above it was
            # answered in real time already, and materialising it changes no answer.
            materialised = watermark(auto, LEVELS[0][0])
            refresh_closed(auto, now)
            if pending:
                auto.execute(
                    text("DELETE FROM rollup_refresh_pending WHERE id = ANY(:ids)"),
                    {"ids": [row.id for row in pending]},
                )
        finally:
            auto.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _REFRESH_LOCK})
    oldest: dict[int, dt.datetime] = {}
    for _id, lo, metric_ids in pending:
        if lo >= materialised:
            continue
        for metric_id in metric_ids:
            oldest[metric_id] = min(lo, oldest.get(metric_id, lo))
    return Refreshed(oldest)
