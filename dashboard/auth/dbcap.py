"""The global cap on concurrent page reads: a counting semaphore in Redis with expiring leases.

A page read takes a slot before it takes a pooled connection and gives it back afterwards
(``dashboard.auth.policy.read_connection``). The slots of all web processes are the members of
one sorted set, scored by the end of their lease in Redis server time, so a process that dies
holding slots frees them when their leases end. When every slot stays taken for the whole wait,
the read is refused with :class:`DatabaseBusy`. When Redis cannot be reached the cap fails open
to a per-process semaphore of the same size (docs/security.md).
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from dashboard.auth.outage import Outage
from models.settings import Settings

log = logging.getLogger(__name__)

SLOTS_KEY = "northstar:db-slots"
RETRY_AFTER_S = 2
"""What a refused read suggests to the user: slots turn over in well under this."""
REDIS_TIMEOUT_S = 1.0

# Drops ended leases, then takes a slot if one is free; the key lives as long as the last lease.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


class DatabaseBusy(Exception):
    """No database slot came free within the wait: the user should try again shortly."""

    def __init__(self, waited_s: float) -> None:
        super().__init__(f"no database slot free within {waited_s:.1f} s")
        self.waited_s = waited_s
        self.retry_after_s = RETRY_AFTER_S


@dataclass(frozen=True, slots=True)
class Lease:
    """One taken slot: a member of the Redis set, or of this process's fallback semaphore."""

    token: str
    local: bool = False


class QuerySlots:
    """At most ``capacity`` leases at once across every process sharing ``key`` in Redis."""

    def __init__(
        self,
        client: redis.Redis,
        capacity: int,
        *,
        wait_s: float,
        lease_s: float,
        key: str = SLOTS_KEY,
        poll_s: float = 0.05,
    ) -> None:
        self.capacity = capacity
        self._client = client
        self._key = key
        self._wait_s = wait_s
        self._lease_ms = max(1, round(lease_s * 1000))
        self._poll_s = poll_s
        self._acquire_script = client.register_script(_ACQUIRE)
        self._local = threading.BoundedSemaphore(capacity)
        self._outage = Outage("the database cap")

    @classmethod
    def from_settings(cls, settings: Settings) -> QuerySlots:
        """Slots on REDIS_URL, sized and timed by the NORTHSTAR_DB_* settings; connects nothing."""
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        return cls(
            client,
            settings.db_query_cap,
            wait_s=settings.db_query_wait_s,
            lease_s=settings.db_query_lease_s,
        )

    def try_acquire(self) -> Lease | None:
        """Take a slot if one is free now; None otherwise. One Redis round trip."""
        if not self._outage.active():
            token = secrets.token_hex(12)
            try:
                taken = self._acquire_script(
                    keys=[self._key], args=[token, self.capacity, self._lease_ms]
                )
            except redis.RedisError as exc:
                self._outage.failed(exc)
            else:
                self._outage.recovered()
                return Lease(token) if taken == 1 else None
        return Lease("", local=True) if self._local.acquire(blocking=False) else None

    def acquire(self) -> Lease:
        """Take a slot, waiting up to the configured wait.

        Raises:
            DatabaseBusy: every slot stayed taken for the whole wait.
        """
        deadline = time.monotonic() + self._wait_s
        while True:
            lease = self.try_acquire()
            if lease is not None:
                return lease
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DatabaseBusy(self._wait_s)
            # Jittered, so waiting processes do not poll Redis in lockstep.
            time.sleep(min(remaining, self._poll_s * (0.5 + random.random())))

    def release(self, lease: Lease) -> None:
        """Give a slot back; if Redis is unreachable its lease simply runs out."""
        if lease.local:
            self._local.release()
            return
        try:
            self._client.zrem(self._key, lease.token)
        except redis.RedisError as exc:
            self._outage.failed(exc)

    @contextmanager
    def slot(self) -> Iterator[Lease]:
        """Hold a slot for the duration of the block (see :meth:`acquire`)."""
        lease = self.acquire()
        try:
            yield lease
        finally:
            self.release(lease)

    def in_use(self) -> int:
        """Leases in Redis that have not ended (for tests and diagnostics)."""
        seconds, micros = self._client.time()
        now_ms = seconds * 1000 + micros // 1000
        return int(self._client.zcount(self._key, f"({now_ms}", "+inf"))
