"""Grant use: each grant's ``last_used_at`` moves to the day its holder makes a request.

**Decision: usage is tracked per user and per day.** The per-request session check already
reads the oldest ``last_used_at`` of the user's grants (``models.queries.principals``); only
when it is older than the start of the day (UTC) does the request write, once, for all of the
user's role and scope grants. So an active user costs one small write a day, never one per
request, and a grant counts as used on any day its holder used Northstar.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

_MARKS = (
    text(
        "UPDATE user_roles SET last_used_at = :now "
        "WHERE user_id = :user_id AND (last_used_at IS NULL OR last_used_at < :day)"
    ),
    text(
        "UPDATE user_scopes SET last_used_at = :now "
        "WHERE user_id = :user_id AND (last_used_at IS NULL OR last_used_at < :day)"
    ),
)


def start_of_day(now: dt.datetime) -> dt.datetime:
    """Midnight UTC of ``now``'s day."""
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def is_stale(oldest_use: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether grants last used at ``oldest_use`` (None: no grants) need today's mark."""
    return oldest_use is not None and oldest_use < start_of_day(now)


def record_grant_use(connection: Connection, user_id: int, now: dt.datetime) -> int:
    """Mark the user's grants not yet marked today as used at ``now``; returns how many.

    Idempotent within a day: two requests racing both match nothing the second time.
    """
    params = {"user_id": user_id, "day": start_of_day(now), "now": now}
    marked = 0
    for statement in _MARKS:
        result = connection.execute(statement, params)
        marked += int(result.rowcount)
    return marked
