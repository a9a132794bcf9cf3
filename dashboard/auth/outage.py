"""Redis outages as one process sees them: use a local fallback for a while, warn once.

The per-user budget and the database cap both fail open to a per-process fallback when Redis
cannot be reached (docs/security.md). Without a memory of the failure every call would wait for
a connection timeout again; with it, Redis is retried every ``retry_s`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Outage:
    """Whether Redis is being skipped for ``what``; one warning per outage, one note on recovery."""

    def __init__(
        self, what: str, *, retry_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._what = what
        self._retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0

    def active(self) -> bool:
        """True while Redis should not be tried (a failure less than ``retry_s`` ago)."""
        return self._down and self._clock() < self._retry_at

    def failed(self, error: Exception) -> None:
        with self._lock:
            first = not self._down
            self._down = True
            self._retry_at = self._clock() + self._retry_s
        if first:
            log.warning(
                "Redis unreachable for %s (%s): using this process's own fallback until it is "
                "back; limits are per process meanwhile",
                self._what,
                error,
            )

    def recovered(self) -> None:
        if not self._down:
            return
        with self._lock:
            was_down, self._down = self._down, False
        if was_down:
            log.warning("Redis reachable again for %s", self._what)
