"""Benchmark history loads: the write function against COPY for 30 days of history, in time
order through the pipeline's batching (an ordered import) and spread at random (the worst
case), on the native backend and, when ``NORTHSTAR_TEST_TIMESCALE_URL`` names a TimescaleDB
server, on the TimescaleDB backend in a database of its own there.

TimescaleDB's write time includes the refresh that makes the loaded history visible
(``timescale.refresh_pending``, what the refresh job runs): below the materialisation
watermark, history shows only after it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, pool

from bench.storage_data import Generator, backfill_stamps, build_world, log
from ingest.pipeline import RECORD_TARGET
from models import migrate
from models.db import make_engine
from models.settings import StorageBackend, get_settings, load_settings
from models.storage import installed_backend, timescale
from models.writes import EventRow, copy_rows, write_events

TIMESCALE_URL = "NORTHSTAR_TEST_TIMESCALE_URL"
BENCH_DATABASE = "northstar_bench_timescale"
PARTITIONS = 8
"""Stream partitions the emulated uploads are split over (the default of the settings)."""


@dataclass
class LoadTimes:
    rows: int = 0
    copy_s: float = 0.0
    write_s: float = 0.0
    refresh_s: float = 0.0

    @property
    def ratio(self) -> float:
        return round(self.copy_s / (self.write_s + self.refresh_s), 3)


def ordered_stamps(count: int, end: dt.datetime) -> list[dt.datetime]:
    """``count`` timestamps evenly over the 30 days before ``end``, oldest first."""
    step = 30 * 86400 / count
    start = end - dt.timedelta(days=30)
    return [start + dt.timedelta(seconds=i * step) for i in range(count)]


def pipeline_batches(
    rows: Sequence[EventRow], size: int = RECORD_TARGET
) -> Iterator[list[EventRow]]:
    """The batches the drain would commit for an upload of ``rows`` in time order.

    The uploads endpoint splits records over the stream partitions by (source, org unit); each
    partition's drain writes up to ``RECORD_TARGET`` records per transaction. Partitions are
    drained side by side, so their batches alternate, each a short stretch of time.
    """
    by_partition: dict[int, list[EventRow]] = {}
    for row in rows:
        key = zlib.crc32(f"{row.source_id}:{row.org_unit_id}".encode()) % PARTITIONS
        by_partition.setdefault(key, []).append(row)
    cursors = dict.fromkeys(by_partition, 0)
    while cursors:
        for key in sorted(cursors):
            start = cursors[key]
            part = by_partition[key]
            yield part[start : start + size]
            if start + size >= len(part):
                del cursors[key]
            else:
                cursors[key] = start + size


def random_batches(rows: Sequence[EventRow], size: int = RECORD_TARGET) -> Iterator[list[EventRow]]:
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def timed_load(
    engine: Engine, raw: psycopg.Connection[Any], batches: Iterator[list[EventRow]]
) -> LoadTimes:
    """COPY each batch into a scratch table, then write it; then refresh on TimescaleDB."""
    times = LoadTimes()
    for batch in batches:
        started = time.perf_counter()
        with raw.cursor() as cursor:
            copy_rows(cursor, "bench_copy", batch)
        raw.commit()
        copied = time.perf_counter()
        write_events(engine, batch)
        times.write_s += time.perf_counter() - copied
        times.copy_s += copied - started
        times.rows += len(batch)
    with engine.connect() as connection:
        backend = installed_backend(connection)
    if backend is StorageBackend.TIMESCALE:
        started = time.perf_counter()
        timescale.refresh_pending(engine, dt.datetime.now(dt.UTC))
        times.refresh_s = time.perf_counter() - started
    return times


def history_loads(
    engine: Engine, libpq_url: str, count: int, end: dt.datetime
) -> dict[str, LoadTimes]:
    """Both 30-day loads of ``count`` events each on ``engine``'s database."""
    world = build_world(engine)
    generator = Generator(world, seed=11)
    results = {}
    with psycopg.connect(libpq_url) as raw:
        raw.execute("CREATE TABLE IF NOT EXISTS bench_copy (LIKE events INCLUDING DEFAULTS)")
        raw.commit()
        ordered = generator.rows(ordered_stamps(count, end))
        log(f"ordered import: {count:,} events over 30 days in time order")
        results["ordered_import"] = timed_load(engine, raw, pipeline_batches(ordered))
        spread = generator.rows(backfill_stamps(random.Random(5), count, end))
        log(f"random spread: {count:,} events over 30 days")
        results["random_spread"] = timed_load(engine, raw, random_batches(spread))
        raw.execute("DROP TABLE bench_copy")
        raw.commit()
    return results


def summary(prefix: str, loads: dict[str, LoadTimes]) -> dict[str, float]:
    out = {}
    for name, times in loads.items():
        out[f"{prefix}write_copy_ratio_{name}"] = times.ratio
        if times.refresh_s:
            out[f"{prefix}refresh_s_{name}"] = round(times.refresh_s, 2)
    return out


@contextmanager
def timescale_database(url: str) -> Iterator[str]:
    """A fresh database on the TimescaleDB server, migrated with that backend; its URL."""
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
        poolclass=pool.NullPool,
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{BENCH_DATABASE}"')
    database_url = admin.url.set(database=BENCH_DATABASE).render_as_string(hide_password=False)
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "NORTHSTAR_STORAGE")}
    os.environ["DATABASE_URL"] = database_url
    os.environ["NORTHSTAR_STORAGE"] = StorageBackend.TIMESCALE.value
    get_settings.cache_clear()
    try:
        migrate.upgrade()
        yield database_url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        admin.dispose()


def timescale_loads(count: int, end: dt.datetime) -> dict[str, float] | str:
    """The same loads on TimescaleDB, or why they were not run."""
    url = os.environ.get(TIMESCALE_URL)
    if not url:
        return f"{TIMESCALE_URL} is not set"
    with timescale_database(url):
        settings = load_settings()
        engine = make_engine(settings, application_name="northstar-bench")
        try:
            return summary("timescale_", history_loads(engine, settings.libpq_url, count, end))
        finally:
            engine.dispose()
