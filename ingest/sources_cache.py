"""The ingest edge's in-process view of sources, compiled contracts and API key hashes.

The API must not query PostgreSQL per request. Each process keeps the whole (small) catalogue
the edge needs and checks one Redis counter, ``northstar:catalog:version``, per request: any
process that changes sources, contracts or keys calls :func:`bump_catalog_version` after it
commits, and every web process reloads on its next request. A reload also happens after
``MAX_AGE_S`` as a safety net for a change whose bump was missed: a revoked key is refused from
the next request after the bump, and within ``MAX_AGE_S`` if the bump was lost.

:class:`KeyUsage` keeps ``source_api_keys.last_used_at`` current to within ``USE_INTERVAL_S``
without a database write per request: a process-local timer, then a Redis ``SET NX EX`` shared
by every process, then one UPDATE by primary key.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

import redis
from sqlalchemy.exc import SQLAlchemyError

from ingest.contracts import CompiledContract, compile_contract
from ingest.runtime import Services
from models.api_keys import (
    EdgeKey,
    EdgeSource,
    edge_sources,
    hash_key,
    touch_key,
    unrevoked_keys,
)
from models.contracts import Contract

log = logging.getLogger(__name__)
CATALOG_VERSION_KEY = "northstar:catalog:version"
MAX_AGE_S = 60.0
KEY_USED_PREFIX = "northstar:key-used:"
USE_INTERVAL_S = 60
"""``last_used_at`` of a key is at most this old (while the key is in use)."""


def bump_catalog_version(client: redis.Redis) -> int:
    """Tell every process that sources, contracts or keys changed (call after the commit)."""
    return int(client.incr(CATALOG_VERSION_KEY))


def read_catalog_version(client: redis.Redis) -> bytes:
    """The current catalogue version (raises ``redis.RedisError`` when Redis is away)."""
    value = client.get(CATALOG_VERSION_KEY)
    return value.encode() if isinstance(value, str) else value or b"0"


@dataclass(frozen=True)
class EdgeCatalog:
    """One consistent snapshot: sources by key, unrevoked keys by hash, compiled contracts."""

    version: bytes
    loaded_at: float
    sources: dict[str, EdgeSource] = field(default_factory=dict)
    keys: dict[str, EdgeKey] = field(default_factory=dict)
    contracts: dict[int, CompiledContract] = field(default_factory=dict)
    """The current compiled contract by source id (sources without a contract are absent)."""

    def key_for(self, plaintext: str) -> EdgeKey | None:
        return self.keys.get(hash_key(plaintext))


class SourcesCache:
    """Thread-safe holder of the current :class:`EdgeCatalog` of one process."""

    def __init__(self, services: Services) -> None:
        # The handles are read from ``services`` on each use: a process may replace them.
        self._services = services
        self._lock = threading.Lock()
        self._catalog: EdgeCatalog | None = None
        # Compiled contracts survive reloads: compiling is the costly part, and a
        # (source, version) never changes once stored.
        self._compiled: dict[tuple[int, int], CompiledContract] = {}

    def current(self) -> EdgeCatalog:
        """The catalogue, reloaded first if another process bumped the version.

        Raises:
            redis.RedisError: Redis is unavailable (the caller answers 503).
            sqlalchemy.exc.SQLAlchemyError: a needed reload failed.
        """
        version = read_catalog_version(self._services.redis)
        catalog = self._catalog
        if catalog is not None and catalog.version == version and not self._old(catalog):
            return catalog
        with self._lock:
            catalog = self._catalog
            if catalog is None or catalog.version != version or self._old(catalog):
                catalog = self._load(version)
                self._catalog = catalog
            return catalog

    @staticmethod
    def _old(catalog: EdgeCatalog) -> bool:
        return time.monotonic() - catalog.loaded_at > MAX_AGE_S

    def _load(self, version: bytes) -> EdgeCatalog:
        with self._services.engine.connect() as connection:
            sources = edge_sources(connection)
            keys = unrevoked_keys(connection)
        contracts = {}
        for source in sources.values():
            if source.contract_version is None or source.contract_fields is None:
                continue
            cache_key = (source.id, source.contract_version)
            if cache_key not in self._compiled:
                contract = Contract.from_row(source.contract_version, source.contract_fields)
                self._compiled[cache_key] = compile_contract(source.id, source.key, contract)
            contracts[source.id] = self._compiled[cache_key]
        return EdgeCatalog(version, time.monotonic(), sources, keys, contracts)


class KeyUsage:
    """Records when keys are used, at most once per ``USE_INTERVAL_S`` per key across all
    processes, so admins see ``last_used_at`` without a database write per request."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._marked: dict[int, float] = {}

    def mark(self, key_id: int, now: dt.datetime) -> None:
        """Note a use of the key; never raises (a lost mark costs a minute of precision)."""
        moment = time.monotonic()
        last = self._marked.get(key_id)
        if last is not None and moment - last < USE_INTERVAL_S:
            return
        self._marked[key_id] = moment
        try:
            first = self._services.redis.set(
                f"{KEY_USED_PREFIX}{key_id}", b"1", nx=True, ex=USE_INTERVAL_S
            )
            if first:
                with self._services.engine.begin() as connection:
                    touch_key(connection, key_id, now)
        except (redis.RedisError, SQLAlchemyError) as exc:
            log.warning("could not record the use of API key %s: %s", key_id, exc)
