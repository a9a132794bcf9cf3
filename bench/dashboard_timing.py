"""Warm and cold latency of one callback request, timed by the client over loopback.

Warm: every distinct request is posted once untimed (filling the answer cache), then the
requests are posted in turn and timed; answers that depend on "now" are keyed by the UTC
minute, so the cache is filled again (untimed) when the minute turns. Cold: before each timed
request every cached answer is deleted (the keys under ``dashboard.cache.PREFIX`` in the
bench's Redis db, nothing else), so each call computes all its answers from PostgreSQL.
Either way PostgreSQL's own buffers are warm: "cold" is about the answer cache, not the
database.

The calls rotate over several signed-in users of the same scope (answers are shared by scope,
so they share the cache) to stay well inside each user's request budget; the fills are made
by other users of that scope, so ``access_log`` tells, for the timed calls alone, how many
had every answer from the cache (``detail.cached``) and how long the callback itself took.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, text

from bench.dashboard_http import Answer, Browser, Outcome
from bench.ingest_load import percentile
from dashboard.cache import PREFIX

ACCESS_FIGURES = text(
    """
    SELECT count(*),
           count(*) FILTER (WHERE (detail ->> 'cached')::boolean),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
    FROM access_log
    WHERE action = :action AND outcome = 'ok' AND at >= :since AND at <= :until
      AND user_id IN (SELECT id FROM users WHERE email = ANY(:emails))
    """
)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def flush_answers(client: redis.Redis) -> int:
    """Delete every cached answer (and nothing else) from the bench's Redis db."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{PREFIX}*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += int(client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


@dataclass(frozen=True, slots=True)
class Target:
    """A callback request to time, in several variants (e.g. one per period)."""

    name: str
    action: str
    """The guarded callback's function name, as ``access_log.action`` records it."""
    bodies: Sequence[dict[str, Any]]
    labels: Sequence[str]
    """One per body: what varies (its period); the p50 is also reported per label."""
    expects: str
    """An output component id the answer must contain (checked on the untimed calls)."""


def _checked(answer: Answer, target: Target) -> None:
    if answer.outcome is not Outcome.OK:
        raise RuntimeError(
            f"{target.name}: answered {answer.status} ({answer.outcome}): {answer.body[:300]!r}"
        )
    if target.expects not in json.loads(answer.body).get("response", {}):
        raise RuntimeError(f"{target.name}: the answer lacks {target.expects}")


def _minute() -> int:
    return int(time.time() // 60)


def _prime(target: Target, primers: Sequence[Browser]) -> int:
    """Post every variant once (untimed), filling the answer cache; the minute it was filled."""
    minute = _minute()
    for n, body in enumerate(target.bodies):
        _checked(primers[n % len(primers)].callback(body), target)
    return minute


def time_calls(
    target: Target,
    primers: Sequence[Browser],
    timed: Sequence[Browser],
    calls: int,
    *,
    cold: bool,
    client: redis.Redis,
    engine: Engine,
) -> dict[str, Any]:
    """Post ``calls`` requests of ``target`` (variants in turn, users ``timed`` in turn).

    Warm: ``primers`` fill the cache first, and again (untimed) whenever the UTC minute
    turns, because answers that depend on "now" are keyed by the minute. Cold: every cached
    answer is deleted before each call.
    """
    primed = None if cold else _prime(target, primers)
    refills = 0
    seconds: list[float] = []
    outcomes: Counter[str] = Counter()
    by_label: dict[str, list[float]] = {}
    since = dt.datetime.now(dt.UTC)
    for n in range(calls):
        if cold:
            flush_answers(client)
        elif primed != _minute():
            primed = _prime(target, primers)
            refills += 1
        variant = n % len(target.bodies)
        answer = timed[n % len(timed)].callback(target.bodies[variant])
        if cold and n < len(target.bodies):
            _checked(answer, target)
        outcomes[answer.outcome] += 1
        if answer.outcome is Outcome.OK:
            seconds.append(answer.seconds)
            by_label.setdefault(target.labels[variant], []).append(answer.seconds)
    until = dt.datetime.now(dt.UTC)
    time.sleep(0.2)  # the last access_log rows are committed before the answer; be generous
    with engine.connect() as connection:
        logged, cached, callback_p95 = connection.execute(
            ACCESS_FIGURES,
            {
                "action": target.action,
                "since": since,
                "until": until,
                "emails": [b.email for b in timed],
            },
        ).one()
    return {
        "p50_ms": ms(percentile(seconds, 0.5)),
        "p95_ms": ms(percentile(seconds, 0.95)),
        "max_ms": ms(max(seconds, default=None)),
        "calls": calls,
        "cache_refills": refills,
        "not_ok": {k: v for k, v in outcomes.items() if k != Outcome.OK},
        "p50_ms_by": {label: ms(percentile(v, 0.5)) for label, v in by_label.items()},
        "logged_ok": int(logged),
        "all_answers_cached": int(cached),
        "callback_p95_ms_in_app": round(float(callback_p95), 1)
        if callback_p95 is not None
        else None,
    }
