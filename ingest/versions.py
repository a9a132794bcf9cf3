"""Data versions in Redis: bumped after each ingest commit, read by the dashboard's cache keys.

Key layout (integers, created on first bump, never expire):

- ``northstar:dv:metric:{metric_id}``: incremented once per committed batch that changed the
  metric's rollups;
- ``northstar:dv``: incremented once per committed batch that changed any metric.

A cache entry built from metrics ``m1…mk`` carries their versions; when any of them moved, the
key no longer matches and the next read goes to PostgreSQL. A missing key reads as 0.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import redis

GLOBAL_KEY = "northstar:dv"
METRIC_PREFIX = "northstar:dv:metric:"


def metric_key(metric_id: int) -> str:
    return f"{METRIC_PREFIX}{metric_id}"


def bump(client: redis.Redis, metric_ids: Collection[int]) -> None:
    """Increment the version of each changed metric and the global version, in one round trip."""
    if not metric_ids:
        return
    with client.pipeline(transaction=False) as pipe:
        for metric_id in sorted(metric_ids):
            pipe.incr(metric_key(metric_id))
        pipe.incr(GLOBAL_KEY)
        pipe.execute()


def current(client: redis.Redis, metric_ids: Sequence[int]) -> dict[int, int]:
    """The current version of each metric (0 for one never bumped)."""
    if not metric_ids:
        return {}
    values = client.mget([metric_key(m) for m in metric_ids])
    return {m: int(v or 0) for m, v in zip(metric_ids, values, strict=True)}


def global_version(client: redis.Redis) -> int:
    value = client.get(GLOBAL_KEY)
    return int(value or 0)
