"""Sign-in throttling: failed attempts counted in Redis per account and per client address.

Only failures count. After ``login_max_failures`` failures within ``login_failure_window_s``
(a fixed window that starts at the first failure), sign-in for that account, or from that
address, answers 429 until the window ends, whether the password is right or not. A success
clears the account's counter but never the address's: one valid account must not let an
address go on guessing others. Per-user query throttling of the pages is another layer
(docs/security.md, Throttling and the database cap).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from models.settings import Settings

_PREFIX = "northstar:login-failures"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a sign-in may be attempted; ``retry_after_s`` when it may not."""

    allowed: bool
    retry_after_s: int = 0


def _account_key(email: str) -> str:
    # Hashed: the key names no e-mail address, and any length of input makes a short key.
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
    return f"{_PREFIX}:account:{digest}"


def _address_key(address: str) -> str:
    return f"{_PREFIX}:address:{address}"


class LoginThrottle:
    """Counts failed sign-ins in Redis; shared by every web process."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._redis = client
        self._max = settings.login_max_failures
        self._window_s = settings.login_failure_window_s

    def check(self, email: str, address: str) -> Verdict:
        """Refuse when the account or the address has used up its failures."""
        keys = (_account_key(email), _address_key(address))
        with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
                pipe.ttl(key)
            count_a, ttl_a, count_b, ttl_b = pipe.execute()
        waits = [
            int(ttl) if int(ttl) > 0 else self._window_s
            for count, ttl in ((count_a, ttl_a), (count_b, ttl_b))
            if count is not None and int(count) >= self._max
        ]
        if waits:
            return Verdict(allowed=False, retry_after_s=max(waits))
        return Verdict(allowed=True)

    def failed(self, email: str, address: str) -> None:
        """Count one failure against the account and the address."""
        with self._redis.pipeline(transaction=True) as pipe:
            for key in (_account_key(email), _address_key(address)):
                pipe.incr(key)
                pipe.expire(key, self._window_s, nx=True)
            pipe.execute()

    def succeeded(self, email: str) -> None:
        self._redis.delete(_account_key(email))
