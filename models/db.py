"""Engine and session factories, and the bounded read transaction every query runs in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from models.settings import Settings


def make_engine(settings: Settings, *, application_name: str = "northstar") -> Engine:
    """An engine with a bounded pool; opening it connects nothing until first use."""
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"application_name": application_name},
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def set_statement_timeout(connection: Connection, timeout_ms: int) -> None:
    """Bound every statement of the current transaction (``SET LOCAL``: ends with it)."""
    connection.execute(
        text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(timeout_ms))}
    )


@contextmanager
def read_transaction(engine: Engine, timeout_ms: int) -> Iterator[Connection]:
    """A read-only transaction whose statements are cut off after ``timeout_ms``."""
    with engine.connect() as connection, connection.begin():
        connection.execute(text("SET TRANSACTION READ ONLY"))
        set_statement_timeout(connection, timeout_ms)
        yield connection
