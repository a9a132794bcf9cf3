"""Shared test support: small catalogues, rollup reads and comparison, scratch databases.

The catalogue is inserted with fixed ids (and the id sequences moved past them), so tests can
name units, sources and metrics by constant and a later ORM insert still gets a fresh id.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, pool, text

from models import migrate
from models.enums import Granularity
from models.settings import Settings, StorageBackend, get_settings
from models.storage import installed_backend

# --- catalogue -----------------------------------------------------------------------------

ROOT_UNIT = 1
SOURCE_MEASURES = {"orders": ("amount", "qty"), "tickets": ("minutes",)}
"""Measures each test source declares as metrics (plus the implicit event count)."""


@dataclass(frozen=True)
class Catalog:
    units: tuple[int, ...]
    """The root unit first, then its children."""
    sources: Mapping[str, int]
    metrics: Mapping[tuple[int, str | None], int]
    """Metric id by (source id, measure); measure None is the event count."""

    def metric(self, source: str, measure: str | None = None) -> int:
        """The id of ``source``'s event count, or of one of its measures."""
        return self.metrics[(self.sources[source], measure)]

    def metrics_of(self, source_id: int, measures: Iterable[str]) -> set[int]:
        """The metrics an event of ``source_id`` carrying ``measures`` feeds."""
        fed = {self.metrics[(source_id, None)]}
        fed |= {self.metrics[(source_id, m)] for m in measures if (source_id, m) in self.metrics}
        return fed


def insert_unit(
    connection: Connection,
    unit_id: int,
    key: str,
    level: str,
    path: str,
    parent_id: int | None = None,
) -> None:
    """One org unit with a fixed id; ``path`` is its ltree path, e.g. ``1.2``."""
    connection.execute(
        text(
            "INSERT INTO org_units (id, key, name, level, parent_id, path) VALUES "
            "(:id, :key, :name, CAST(:level AS org_level), :parent, CAST(:path AS ltree))"
        ),
        {
            "id": unit_id,
            "key": key,
            "name": key.upper(),
            "level": level,
            "parent": parent_id,
            "path": path,
        },
    )


def insert_source(
    connection: Connection,
    source_id: int,
    key: str,
    *,
    owner_unit_id: int = ROOT_UNIT,
    freshness_sla_s: int = 300,
    retention_days: int = 90,
) -> None:
    """One streaming source with a fixed id."""
    connection.execute(
        text(
            "INSERT INTO sources (id, key, name, owner_unit_id, refresh_mode, "
            "freshness_sla_s, retention_days) "
            "VALUES (:id, :key, :name, :unit, 'streaming', :sla, :days)"
        ),
        {
            "id": source_id,
            "key": key,
            "name": key.title(),
            "unit": owner_unit_id,
            "sla": freshness_sla_s,
            "days": retention_days,
        },
    )


def insert_metric(
    connection: Connection, metric_id: int, key: str, source_id: int, measure: str | None
) -> None:
    """One metric with a fixed id: a source's event count (``measure`` None) or a measure."""
    connection.execute(
        text(
            "INSERT INTO metrics (id, key, source_id, measure, name) "
            "VALUES (:id, :key, :source, :measure, :name)"
        ),
        {"id": metric_id, "key": key, "source": source_id, "measure": measure, "name": key},
    )


def advance_sequences(connection: Connection) -> None:
    """Move the id sequences past the fixed ids inserted, so ORM inserts do not collide."""
    for table in ("org_units", "sources", "metrics"):
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        )


def catalog_layout(children: int = 0) -> Catalog:
    """The ids :func:`make_catalog` gives: a company (unit 1) with ``children`` regions below
    it, the sources of ``SOURCE_MEASURES``, their event counts first and then their measures.
    """
    units = tuple(range(ROOT_UNIT, ROOT_UNIT + children + 1))
    sources = {key: n for n, key in enumerate(SOURCE_MEASURES, start=1)}
    metrics: dict[tuple[int, str | None], int] = {
        (source_id, None): source_id for source_id in sources.values()
    }
    for key, measures in SOURCE_MEASURES.items():
        metrics |= {(sources[key], m): len(metrics) + i for i, m in enumerate(measures, start=1)}
    return Catalog(units=units, sources=sources, metrics=metrics)


def make_catalog(
    engine: Engine, *, children: int = 0, retention_days: Mapping[str, int] | None = None
) -> Catalog:
    """Insert :func:`catalog_layout` (sources kept 90 days unless ``retention_days`` says)."""
    catalog = catalog_layout(children)
    retention = retention_days or {}
    source_keys = {source_id: key for key, source_id in catalog.sources.items()}
    with engine.begin() as connection:
        insert_unit(connection, ROOT_UNIT, "acme", "company", str(ROOT_UNIT))
        for child in catalog.units[1:]:
            path = f"{ROOT_UNIT}.{child}"
            insert_unit(connection, child, f"unit{child}", "region", path, ROOT_UNIT)
        for key, source_id in catalog.sources.items():
            insert_source(connection, source_id, key, retention_days=retention.get(key, 90))
        for (source_id, measure), metric_id in catalog.metrics.items():
            key = f"{source_keys[source_id]}.{measure or 'count'}"
            insert_metric(connection, metric_id, key, source_id, measure)
        advance_sequences(connection)
    return catalog


def require_native(engine: Engine) -> None:
    """Skip the test (saying why) unless the database runs the native storage backend."""
    with engine.connect() as connection:
        backend = installed_backend(connection)
    if backend is not StorageBackend.NATIVE:
        pytest.skip(f"native-backend test; this database runs {backend} (see test_timescale)")


# --- rollups -------------------------------------------------------------------------------

ROLLUP_TABLES = {
    Granularity.MINUTE: "rollup_1m",
    Granularity.HOUR: "rollup_1h",
    Granularity.DAY: "rollup_1d",
}

RollupKey = tuple[dt.datetime, int, int]
"""(bucket, metric_id, org_unit_id)"""


class RollupRow(NamedTuple):
    n: int
    total: float
    min_v: float
    max_v: float
    sum_sq: float
    last_ts: dt.datetime


Rollups = dict[RollupKey, RollupRow]

_STORED = "SELECT bucket, metric_id, org_unit_id, n, total, min_v, max_v, sum_sq, last_ts FROM {}"


def rollup_rows(result: Iterable[Sequence[Any]]) -> Rollups:
    """Rows of (bucket, metric_id, org_unit_id, n, total, min_v, max_v, sum_sq, last_ts)."""
    return {(r[0], r[1], r[2]): RollupRow(int(r[3]), *r[4:9]) for r in result}


def stored_rollups(connection: Connection, table: str) -> Rollups:
    return rollup_rows(connection.execute(text(_STORED.format(table))))


def rollups(engine: Engine, table: str) -> Rollups:
    with engine.connect() as connection:
        return stored_rollups(connection, table)


def all_rollups(engine: Engine) -> dict[str, Rollups]:
    """Every rollup table's rows, by table name."""
    with engine.connect() as connection:
        return {table: stored_rollups(connection, table) for table in ROLLUP_TABLES.values()}


class Aggregated(Protocol):
    @property
    def n(self) -> int: ...
    @property
    def total(self) -> float: ...
    @property
    def min_v(self) -> float: ...
    @property
    def max_v(self) -> float: ...
    @property
    def sum_sq(self) -> float: ...
    @property
    def last_ts(self) -> dt.datetime: ...


_FLOATS = ("total", "min_v", "max_v", "sum_sq")


def rollup_differences(
    table: str, want: Mapping[RollupKey, Aggregated], have: Mapping[RollupKey, Aggregated]
) -> list[str]:
    """Every way ``have`` differs from ``want`` (floats up to summation order); empty if none."""
    problems = [f"{table}: missing {key}" for key in want.keys() - have.keys()]
    problems += [f"{table}: without events {key}" for key in have.keys() - want.keys()]
    for key in want.keys() & have.keys():
        w, h = want[key], have[key]
        same = (
            w.n == h.n
            and w.last_ts == h.last_ts
            and all(
                math.isclose(getattr(w, f), getattr(h, f), rel_tol=1e-9, abs_tol=1e-6)
                for f in _FLOATS
            )
        )
        if not same:
            problems.append(f"{table} {key}: want {w}, have {h}")
    return problems


# --- scratch databases ---------------------------------------------------------------------


@contextmanager
def admin_engine(settings: Settings) -> Iterator[Engine]:
    """An autocommit engine on the test server, for creating and dropping databases."""
    admin = create_engine(
        settings.sqlalchemy_url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool
    )
    try:
        yield admin
    finally:
        admin.dispose()


@contextmanager
def scratch_database(admin: Engine, suffix: str) -> Iterator[Engine]:
    """An empty database ``<test database>_<suffix>_test``, dropped again afterwards."""
    name = f"{(admin.url.database or '').removesuffix('_test')}_{suffix}_test"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_engine(admin.url.set(database=name), poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def storage_setting(backend: StorageBackend) -> Iterator[None]:
    """``NORTHSTAR_STORAGE=backend`` for what migration 0002 reads, restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NORTHSTAR_STORAGE", backend.value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


def migrate_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade (or downgrade) ``engine``'s database to ``revision`` with Alembic."""
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


# --- rollup oracle: aggregates recomputed in Python -----------------------------------------


@dataclass
class Aggregate:
    """What a rollup row should hold, folded value by value."""

    n: int
    total: float
    min_v: float
    max_v: float
    sum_sq: float
    last_ts: dt.datetime

    def add(self, v: float, ts: dt.datetime) -> None:
        self.n += 1
        self.total += v
        self.min_v = min(self.min_v, v)
        self.max_v = max(self.max_v, v)
        self.sum_sq += v * v
        self.last_ts = max(self.last_ts, ts)


def utc_bucket(ts: dt.datetime, granularity: Granularity) -> dt.datetime:
    """The UTC bucket of ``granularity`` that ``ts`` falls into."""
    utc = ts.astimezone(dt.UTC).replace(second=0, microsecond=0)
    if granularity is Granularity.MINUTE:
        return utc
    utc = utc.replace(minute=0)
    return utc if granularity is Granularity.HOUR else utc.replace(hour=0)
