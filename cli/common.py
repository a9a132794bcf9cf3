"""What every command shares: settings and an engine, built on first use and closed at exit."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine

from models.db import make_engine
from models.settings import Settings, get_settings


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
