"""Data versions in Redis: bumped after each ingest commit, read by the dashboard's cache keys.

Key layout (integers, created on first bump, never expire):

- ``northstar:dv:metric:{metric_id}``: incremented once per committed batch that changed the
  metric's rollups;
- ``northstar:dv:closed:{metric_id}``: incremented once per committed batch that changed the
  metric's rollups *before the current UTC hour* (late events), as the bumping process's clock
  tells the hour after the commit;
- ``northstar:dv``: incremented once per committed batch that changed any metric.

A cache entry built from metrics ``m1…mk`` carries their versions; when any of them moved, the
key no longer matches and the next read goes to PostgreSQL. A missing key reads as 0. An answer
about a period that ended before the current hour (minus :data:`CLOSED_MARGIN`, for clock skew
between processes and commit latency) carries the closed versions instead: a live stream of
current events, which moves the metric versions several times a second, leaves it valid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

import redis

GLOBAL_KEY = "northstar:dv"
METRIC_PREFIX = "northstar:dv:metric:"
CLOSED_PREFIX = "northstar:dv:closed:"
CLOSED_MARGIN = dt.timedelta(minutes=2)
"""How long after an hour ends a reader still treats it as open (see the module)."""


def metric_key(metric_id: int) -> str:
    return f"{METRIC_PREFIX}{metric_id}"


def closed_metric_key(metric_id: int) -> str:
    return f"{CLOSED_PREFIX}{metric_id}"


def current_hour(now: dt.datetime) -> dt.datetime:
    """The start of ``now``'s UTC hour: events before it are late for the closed versions."""
    return now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def closed_before(now: dt.datetime) -> dt.datetime:
    """Periods ending at or before this moment are answered under the closed versions."""
    return current_hour(now - CLOSED_MARGIN)


def bump(
    client: redis.Redis, metric_ids: Collection[int], closed_ids: Collection[int] = ()
) -> None:
    """Increment the version of each changed metric and the global version, and the closed
    version of each metric changed before the current hour, in one round trip."""
    if not metric_ids:
        return
    with client.pipeline(transaction=False) as pipe:
        for metric_id in sorted(metric_ids):
            pipe.incr(metric_key(metric_id))
        for metric_id in sorted(closed_ids):
            pipe.incr(closed_metric_key(metric_id))
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
