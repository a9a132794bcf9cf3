"""What every command shares: settings and an engine, built on first use and closed at exit;
telling the web processes that the catalogue changed."""

from __future__ import annotations

from types import TracebackType

import click
import redis
from sqlalchemy import Engine

from ingest.sources_cache import MAX_AGE_S, bump_catalog_version
from models.audit import Actor
from models.db import make_engine
from models.settings import Settings, get_settings

CLI_ACTOR = Actor("system:cli")
"""The audit actor of changes made on the command line."""


class Runtime:
    """Settings and engine of one command run; reading them raises ConfigurationError."""

    def __init__(self) -> None:
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        return get_settings()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings, application_name="northstar-cli")
        return self._engine

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._engine is not None:
            self._engine.dispose()


def announce_catalog_change(runtime: Runtime) -> None:
    """Make every web process reload its sources and keys on its next request."""
    client = redis.Redis.from_url(runtime.settings.redis_url)
    try:
        bump_catalog_version(client)
    except redis.RedisError as exc:
        click.echo(
            f"warning: Redis unreachable ({type(exc).__name__}); running web processes see the "
            f"change within {MAX_AGE_S:.0f} s",
            err=True,
        )
    finally:
        client.close()
