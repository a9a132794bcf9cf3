"""Fixtures of the read API tests (the world is in ``support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine

from integration.read_api.support import MINUTE, World, build
from models.settings import Settings


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    yield from build(db, settings)


@pytest.fixture
def busy(world: World) -> World:
    """In Germany: 600 EUR of orders two minutes ago, 400 EUR 90 minutes ago; in the US, 100."""
    for amount in (100.0, 200.0, 300.0):
        world.write("de", 2 * MINUTE, amount)
    world.write("de", 90 * MINUTE, 400.0)
    world.write("us", 2 * MINUTE, 100.0)
    return world
