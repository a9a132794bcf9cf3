"""Data versions: raised in each ingest write transaction, read by the dashboard's cache keys.

Names (the same in PostgreSQL's ``data_versions`` and in Redis):

- ``northstar:data-version:metric:{metric_id}``: +1 per committed batch that changed the
  metric's rollups;
- ``northstar:data-version:closed:{metric_id}``: +1 per committed batch that changed the
  metric's rollups *before the current UTC hour* (late events), as the writer's clock tells the
  hour at the end of its transaction;
- ``northstar:data-version``: +1 per committed batch that changed any metric.

**Durable with the data.** The drain raises the versions in its write transaction
(:func:`record`), so they commit with the rows or not at all; after the commit it copies the new
values to Redis (:func:`publish`), where the dashboard reads them. A worker that dies between
the commit and the copy leaves Redis behind: :func:`resync` copies every version from
PostgreSQL to Redis again, and runs in every sweep (every 5 s), in every drain that reclaimed
entries (a worker died or failed) and when a worker starts. Redis only ever moves *up* to
PostgreSQL's value (a compare-and-set script), so copies arriving out of order, or a resync
racing a commit, never move a version back.

A cache entry built from metrics ``m1…mk`` carries their versions; when any of them moved, the
key no longer matches and the next read goes to PostgreSQL. A missing key reads as 0. An answer
about a period that ended before the current hour (minus :data:`CLOSED_MARGIN`, for clock skew
between processes and commit latency) carries the closed versions instead: a live stream of
current events, which moves the metric versions several times a second, leaves it valid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence

import redis
from sqlalchemy import Connection, Engine

from models.queries.data_versions import all_data_versions
from models.writes import raise_data_versions_in

GLOBAL_KEY = "northstar:data-version"
METRIC_PREFIX = "northstar:data-version:metric:"
CLOSED_PREFIX = "northstar:data-version:closed:"
CLOSED_MARGIN = dt.timedelta(minutes=2)
"""How long after an hour ends a reader still treats it as open (see the module)."""

# Set each key to its new value unless Redis already holds as much (or more): versions only
# ever move up, whatever order the copies arrive in. Returns how many keys moved.
_RAISE_TO = """
local moved = 0
for i, key in ipairs(KEYS) do
    local value = tonumber(ARGV[i])
    if value > tonumber(redis.call('GET', key) or '0') then
        redis.call('SET', key, ARGV[i])
        moved = moved + 1
    end
end
return moved
"""


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


def names(metric_ids: Collection[int], closed_ids: Collection[int] = ()) -> list[str]:
    """The versions a batch that changed ``metric_ids`` (``closed_ids`` before the current
    hour) raises: theirs and the global one; none when nothing changed."""
    if not metric_ids:
        return []
    wanted = {GLOBAL_KEY} | {metric_key(m) for m in metric_ids}
    return sorted(wanted | {closed_metric_key(m) for m in closed_ids})


def record(
    connection: Connection, metric_ids: Collection[int], closed_ids: Collection[int] = ()
) -> dict[str, int]:
    """Raise the versions of a batch in its write transaction (the last statement before the
    commit); returns the new values for :func:`publish` once committed."""
    return raise_data_versions_in(connection, names(metric_ids, closed_ids))


def publish(client: redis.Redis, versions: Mapping[str, int]) -> int:
    """Copy committed versions to Redis, never moving one down; returns how many moved."""
    if not versions:
        return 0
    keys = sorted(versions)
    moved = client.eval(_RAISE_TO, len(keys), *keys, *(versions[k] for k in keys))
    return int(moved)


def resync(client: redis.Redis, engine: Engine) -> int:
    """Copy every durable version to Redis (repairs a copy lost to a crash after a commit, or
    a Redis that lost its data); returns how many keys moved."""
    with engine.connect() as connection:
        durable = all_data_versions(connection)
    return publish(client, durable)


def bump(
    client: redis.Redis, metric_ids: Collection[int], closed_ids: Collection[int] = ()
) -> None:
    """Increment versions in Redis only, as if a batch had changed ``metric_ids``.

    For tests and tools that write facts without the drain. The drain does not use it: a
    version raised only in Redis is above PostgreSQL's, so it stays put until PostgreSQL's
    passes it (see :func:`publish`).
    """
    keys = names(metric_ids, closed_ids)
    if not keys:
        return
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.incr(key)
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
