"""The long-lived handles a process shares: settings, the database engine, the Redis client."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from sqlalchemy import Engine

from models.db import make_engine
from models.settings import Settings


@dataclass
class Services:
    """Built once per process (per worker after a fork); opening it connects nothing yet."""

    settings: Settings
    engine: Engine = field(init=False)
    redis: redis.Redis = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings)
        self.redis = redis.Redis.from_url(self.settings.redis_url)

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()
