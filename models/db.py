"""Engine and session factories (the bounded read transaction is ``models.queries.common``)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
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
