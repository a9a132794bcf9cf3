"""The per-key budget of rejected records: how much quarantine one API key may fill per hour.

Every rejected record becomes a quarantine row; without a bound, a producer posting garbage
fills the quarantine (and the stewards' queue) as fast as it can post. Each API key may have
``ingest_max_rejected_per_hour`` records rejected per clock hour (UTC); a request whose
rejections would go past it is refused whole with 429 until the hour ends. Valid records cost
nothing here. The counter is ``northstar:ingest:rejected:{key_id}:{hour}`` (expires after two
hours); a request refused for another reason (a full backlog) gets its charge back.
"""

from __future__ import annotations

import time

import redis

PREFIX = "northstar:ingest:rejected:"
_HOUR_S = 3600


class RejectBudgetExceeded(Exception):
    """The key's rejected records this hour would pass the limit; nothing was kept."""

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(f"this API key may have at most {limit} records rejected per hour")
        self.limit = limit
        self.retry_after = retry_after


def _key(key_id: int, now_s: float) -> str:
    return f"{PREFIX}{key_id}:{int(now_s) // _HOUR_S}"


def charge(
    client: redis.Redis, key_id: int, rejected: int, limit: int, now_s: float | None = None
) -> str | None:
    """Count ``rejected`` records against the key's hour; returns the counter to refund.

    Raises:
        RejectBudgetExceeded: the hour's total would pass ``limit`` (nothing is counted).
    """
    if rejected <= 0:
        return None
    now = time.time() if now_s is None else now_s
    counter = _key(key_id, now)
    with client.pipeline(transaction=True) as pipe:
        pipe.incrby(counter, rejected)
        pipe.expire(counter, 2 * _HOUR_S)
        total, _ = pipe.execute()
    if int(total) > limit:
        client.decrby(counter, rejected)
        retry_after = _HOUR_S - int(now) % _HOUR_S
        raise RejectBudgetExceeded(limit, max(1, retry_after))
    return counter


def refund(client: redis.Redis, counter: str | None, rejected: int) -> None:
    """Give back a charge whose request was not kept after all."""
    if counter is not None:
        client.decrby(counter, rejected)
