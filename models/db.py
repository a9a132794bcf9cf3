"""Engine and session factories (the bounded read transaction is ``models.queries.common``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, func, select
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


@contextmanager
def write_session(engine: Engine, statement_timeout_ms: int) -> Iterator[Session]:
    """A session in a transaction bounded by ``statement_timeout_ms``: committed when the block
    ends without an exception, rolled back otherwise (a row lock held elsewhere cannot hang
    the caller)."""
    with Session(engine) as session, session.begin():
        timeout = str(statement_timeout_ms)
        session.execute(select(func.set_config("statement_timeout", timeout, True)))
        yield session
