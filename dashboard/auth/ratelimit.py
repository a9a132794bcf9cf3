"""Per-user throttling (Flask-Limiter on Redis) and the database cap, set up on the server.

Each signed-in user has one request budget (``NORTHSTAR_RATE_LIMIT``, a sliding-window counter
in Redis keyed by user id), spent by every request except static files, sign-in, sign-out,
health, ``/metrics`` and the ingest API:

- Dash callback posts are charged by a hook of this module, once per request. Over budget the
  guarded data callback answers "Too many requests" with ``Retry-After`` (Dash renders only a
  200) and other callbacks, such as page navigation, go on. A client that goes on posting for
  the same budget again of refused requests is not a browser reading the message: it gets 429.
- Every other request (page loads, Dash's layout and dependencies, any other endpoint) is
  checked by Flask-Limiter itself and answered 429 over budget.

Refusals are written to ``access_log`` (outcome ``throttled``). When Redis cannot be reached,
budgets fall back to per-process counters. docs/security.md records the decisions.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from flask import Flask, Response, g, has_request_context, jsonify, request
from flask_limiter import Limit, Limiter, RequestLimit
from flask_login import current_user  # type: ignore[import-untyped]
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage
from limits.strategies import RateLimiter, SlidingWindowCounterRateLimiter

from dashboard.auth.dbcap import DatabaseBusy, QuerySlots
from dashboard.auth.guard import METRICS_PATH, is_public, wants_json
from dashboard.auth.login import LOGOUT_PATH
from dashboard.auth.outage import Outage
from dashboard.auth.policy import (
    BUDGET_KEY,
    BUSY,
    QUERY_SLOTS_KEY,
    SignedInUser,
    record_refusal,
    throttled_message,
)
from models.settings import Settings

DASH_UPDATE_PATH = "/_dash-update-component"
NOT_BUDGETED = frozenset({LOGOUT_PATH, METRICS_PATH})
BUDGET_SCOPE = "requests"
REFUSED_SCOPE = "refused"
KEY_PREFIX = "northstar"
STORAGE_PREFIX = "northstar:ratelimit"
STRATEGY = "sliding-window-counter"  # RequestBudget uses the same one on the same storage
REDIS_TIMEOUT_S = 1
_VERDICT = "northstar_budget_verdict"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One request's charge: allowed, or refused with the wait and whether far beyond."""

    allowed: bool
    retry_after_s: int = 0
    far_beyond: bool = False


def user_key() -> str:
    """The budget's key: the signed-in user's id, never an address or a header."""
    user = current_user
    return budget_key(user.account.user_id) if isinstance(user, SignedInUser) else ""


def budget_key(user_id: int) -> str:
    return f"user:{user_id}"


def not_budgeted() -> bool:
    """Requests that spend no budget: public paths, sign-out, metrics, anonymous requests."""
    path = request.path
    return is_public(path) or path in NOT_BUDGETED or not isinstance(current_user, SignedInUser)


def _not_for_flask_limiter() -> bool:
    # Dash callback posts are charged by _charge_dash_callback, which can let them through.
    return request.path == DASH_UPDATE_PATH or not_budgeted()


class RequestBudget:
    """Spends the same Redis counters as Flask-Limiter's default limit, for Dash callbacks."""

    def __init__(self, storage: Storage, items: Sequence[RateLimitItem]) -> None:
        self._shared = SlidingWindowCounterRateLimiter(storage)
        self._items = sorted(items)  # the shortest window first, as Flask-Limiter does
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._outage = Outage("per-user throttling")

    def charge(self, user_id: int) -> Verdict:
        """Spend one unit of ``user_id``'s budget for this request (once per request)."""
        cached = g.get(_VERDICT) if has_request_context() else None
        if isinstance(cached, Verdict):
            return cached
        verdict = self._spend(budget_key(user_id))
        if has_request_context():
            setattr(g, _VERDICT, verdict)
        return verdict

    def wait_s(self, user_id: int) -> int | None:
        """:data:`dashboard.auth.policy.ChargeRequest`: seconds to wait, or None."""
        verdict = self.charge(user_id)
        return None if verdict.allowed else verdict.retry_after_s

    def _spend(self, key: str) -> Verdict:
        if not self._outage.active():
            try:
                verdict = self._spend_on(self._shared, key)
            except (StorageError, redis.RedisError) as exc:
                self._outage.failed(exc)
            else:
                self._outage.recovered()
                return verdict
        return self._spend_on(self._local, key)

    def _spend_on(self, strategy: RateLimiter, key: str) -> Verdict:
        for item in self._items:
            if strategy.hit(item, KEY_PREFIX, key, BUDGET_SCOPE):
                continue
            stats = strategy.get_window_stats(item, KEY_PREFIX, key, BUDGET_SCOPE)
            # Refused requests are counted apart, against the same budget.
            far_beyond = not strategy.hit(item, KEY_PREFIX, key, REFUSED_SCOPE)
            return Verdict(False, _seconds_until(stats.reset_time), far_beyond)
        return Verdict(True)


def _seconds_until(moment: float) -> int:
    return max(1, math.ceil(moment - time.time()))


def refusal(status: int, message: str, retry_after_s: int) -> Response:
    """A 429 or 503 with ``Retry-After``: JSON for Dash and JSON clients, plain text otherwise."""
    if wants_json(request.path):
        error = "throttled" if status == 429 else "busy"
        response = jsonify(error=error, message=message, retry_after=retry_after_s)
    else:
        response = Response(message, mimetype="text/plain")
    response.status_code = status
    response.headers["Retry-After"] = str(retry_after_s)
    return response


def _answer_breach(limit: RequestLimit) -> Response:
    """Flask-Limiter's answer over budget (every request but Dash callback posts)."""
    wait_s = _seconds_until(limit.reset_at)
    message = throttled_message(wait_s)
    record_refusal(message, 429)
    return refusal(429, message, wait_s)


def _charge_dash_callback(budget: RequestBudget) -> Response | None:
    if request.path != DASH_UPDATE_PATH or not_budgeted():
        return None
    verdict = budget.charge(current_user.account.user_id)
    if not verdict.far_beyond:
        return None  # within budget, or the guarded callback shows the message
    message = throttled_message(verdict.retry_after_s)
    record_refusal(message, 429)
    return refusal(429, message, verdict.retry_after_s)


def _answer_busy(error: DatabaseBusy) -> Response:
    """A read outside a guarded callback (a page layout) found no database slot."""
    record_refusal(BUSY, 503)
    return refusal(503, BUSY, error.retry_after_s)


def init_app(server: Flask, settings: Settings) -> Limiter | None:
    """Register the database cap and, unless NORTHSTAR_RATE_LIMIT_ENABLED is false, the budget.

    Call after the sign-in guard so that anonymous requests are refused before any counting.
    """
    server.extensions[QUERY_SLOTS_KEY] = QuerySlots.from_settings(settings)
    server.register_error_handler(DatabaseBusy, _answer_busy)
    if not settings.rate_limit_enabled:
        return None
    budget_limit = Limit(
        settings.rate_limit, key_function=user_key, scope=BUDGET_SCOPE, shared=True
    )
    limiter = Limiter(
        user_key,
        default_limits=[budget_limit],
        strategy=STRATEGY,
        storage_uri=settings.redis_url,
        storage_options={
            "key_prefix": STORAGE_PREFIX,
            "socket_timeout": REDIS_TIMEOUT_S,
            "socket_connect_timeout": REDIS_TIMEOUT_S,
        },
        key_prefix=KEY_PREFIX,
        headers_enabled=False,  # the X-RateLimit headers would cost a Redis call per response
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        on_breach=_answer_breach,
    )
    limiter.request_filter(_not_for_flask_limiter)
    limiter.init_app(server)
    budget = RequestBudget(limiter.storage, parse_many(settings.rate_limit))
    server.extensions[BUDGET_KEY] = budget.wait_s
    server.before_request(functools.partial(_charge_dash_callback, budget))
    return limiter
