"""Test fixtures: a real PostgreSQL database built once by the migrations, a real Redis.

Tests refuse to run against a database whose name does not end in ``_test``: the fixtures
truncate every table.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from models import migrate
from models.db import make_engine
from models.schema import metadata
from models.settings import Settings, StorageBackend, load_settings
from models.storage import installed_backend, timescale

_KEEP = {"storage_meta", "alembic_version"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--guide-screenshots",
        metavar="DIR",
        default=None,
        help="browser tests also save the user guide's screenshots into DIR (make screenshots)",
    )


@pytest.fixture(scope="session")
def settings() -> Settings:
    loaded = load_settings()
    database = make_url(loaded.sqlalchemy_url).database or ""
    if not database.endswith("_test"):
        pytest.exit(
            f"refusing to run tests against database {database!r}: its name must end in "
            "_test (use `make test`, which creates a fresh northstar_test)",
            returncode=2,
        )
    return loaded


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    migrate.upgrade()
    created = make_engine(settings, application_name="northstar-tests")
    yield created
    created.dispose()


def truncate_all(engine: Engine) -> None:
    """Empty every table Northstar owns (partitions included) and restart identities.

    On TimescaleDB that includes ``metric_values``, which the continuous aggregates read in
    real time: left full, every earlier test's values would stay in the rollups.
    """
    tables = [t.name for t in metadata.sorted_tables if t.name not in _KEEP]
    with engine.begin() as connection:
        if installed_backend(connection) is StorageBackend.TIMESCALE:
            tables += timescale.FEED_TABLES
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The engine, on empty tables."""
    truncate_all(engine)
    return engine


@pytest.fixture
def session(db: Engine) -> Iterator[Session]:
    with Session(db, expire_on_commit=False) as opened:
        yield opened


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
