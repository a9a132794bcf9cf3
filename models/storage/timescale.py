"""TimescaleDB storage: hypertables, continuous aggregates with their policies, and retention.

Written against TimescaleDB 2.28 (the last line for PostgreSQL 15). ``events`` is a hypertable
of one-day chunks with the columns and key of the native table. A continuous aggregate cannot
unnest the ``measures`` map, so :data:`WRITE` also inserts one narrow row per (new event,
metric) into the hypertable ``metric_values``; ``rollup_1m`` is a real-time continuous
aggregate over it, ``rollup_1h`` and ``rollup_1d`` are hierarchical ones on top, with the
columns of ``models.facts``. Buckets are UTC: ``time_bucket`` on ``timestamptz`` without a
time zone argument cuts in UTC.

``INSTALL`` runs inside the migration's transaction, which is why every continuous aggregate is
created ``WITH NO DATA`` (``WITH DATA`` refuses to run in a transaction block): the install
starts on empty tables, and the refresh policies fill them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine, text

from models.storage.native import EVENTS_TABLE

CHUNK_INTERVAL = "1 day"
REFRESH_WINDOW_DAYS = 7
"""Refresh policies re-materialise this many recent days; ``refresh_late_data`` goes further."""
LATE_DATA_DAYS = 30
"""How far back maintenance folds late events into the materialised rollups."""
METRIC_VALUES_RETENTION_DAYS = 40
"""Longer than any refresh window, so a refresh never sees dropped raw values."""
DEFAULT_ROLLUP_1M_RETENTION_DAYS = 35
"""What INSTALL sets; maintenance then applies ``settings.rollup_1m_retention_days``."""
MIN_ROLLUP_1M_RETENTION_DAYS = REFRESH_WINDOW_DAYS + 1
"""Shorter would let the hourly refresh re-read minutes that retention already dropped."""
COLUMNSTORE_AFTER_DAYS = 7

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


_FROM_VALUES = (
    "count(*) AS n, sum(v) AS total, min(v) AS min_v, max(v) AS max_v, "
    "sum(v * v) AS sum_sq, max(ts) AS last_ts"
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
    _cagg("rollup_1m", "1 minute", _FROM_VALUES, "metric_values", "ts"),
    _cagg("rollup_1h", "1 hour", _FROM_ROLLUP, "rollup_1m", "bucket"),
    _cagg("rollup_1d", "1 day", _FROM_ROLLUP, "rollup_1h", "bucket"),
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
# The continuous aggregates pick the values up (real-time until materialised).
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
    RETURNING metric_id
)
SELECT (SELECT count(*) FROM new),
       ARRAY(SELECT DISTINCT metric_id FROM vals)
"""

CONTINUOUS_AGGREGATES = ("rollup_1m", "rollup_1h", "rollup_1d")
"""In refresh order: each level is refreshed from the one before it."""


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


def refresh(engine: Engine, start: dt.datetime | None, end: dt.datetime | None) -> None:
    """Materialise every continuous aggregate over [start, end) (None: unbounded), in order.

    A refresh cannot run in a transaction block, so this uses an autocommit connection. Only
    the invalidated parts of the window are recomputed, so a wide window is cheap.
    """
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for name in CONTINUOUS_AGGREGATES:
            autocommit.execute(
                # Typed casts: the procedure takes "any", which cannot type a bare NULL.
                text(
                    f"CALL refresh_continuous_aggregate('{name}', "
                    "CAST(:start AS timestamptz), CAST(:end AS timestamptz))"
                ),
                {"start": start, "end": end},
            )


def refresh_late_data(engine: Engine, rollup_1m_retention_days: int) -> None:
    """Fold events that arrived after the refresh policies' window into the rollups.

    The window stays inside what ``metric_values`` and ``rollup_1m`` still hold: refreshing
    a range whose source rows were dropped would empty the rollups there.
    """
    kept = max(rollup_1m_retention_days, MIN_ROLLUP_1M_RETENTION_DAYS)
    days = min(LATE_DATA_DAYS, kept - 1, METRIC_VALUES_RETENTION_DAYS - 1)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    refresh(engine, start, None)
