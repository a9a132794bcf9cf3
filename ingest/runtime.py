"""The long-lived handles a process shares: settings, the database engine, the Redis client."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from sqlalchemy import Engine

from models.db import make_engine
from models.settings import Settings, StorageBackend
from models.storage import installed_backend


@dataclass
class Services:
    """Built once per process (per worker after a fork); opening it connects nothing yet."""

    settings: Settings
    engine: Engine = field(init=False)
    redis: redis.Redis = field(init=False)
    _backend: StorageBackend | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings)
        self.redis = redis.Redis.from_url(self.settings.redis_url)

    def storage_backend(self) -> StorageBackend:
        """The installed storage backend, read once (it never changes without a migration)."""
        if self._backend is None:
            with self.engine.connect() as connection:
                self._backend = installed_backend(connection)
        return self._backend

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()
