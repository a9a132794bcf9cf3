"""The simulator's HTTP client: one kept-alive connection, bounded retries honouring Retry-After.

API keys travel only in the Authorization header and never appear in logs or errors.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import NamedTuple

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_RETRY_AFTER_S = 30.0
TIMEOUT_S = 30.0
IDLE_REUSE_S = 1.5
"""Reuse a kept-alive connection only if it idled less than this: servers close idle ones
(gunicorn after 2 s), and a post on a closed connection fails with a broken pipe."""
_RETRY_STATUSES = (429, 503)


class Outcome(NamedTuple):
    """The API's answer to one post: status (0 when it never answered) and its counts."""

    status: int
    accepted: int
    rejected: int


def _retry_after(value: str | None, attempt: int) -> float:
    try:
        wait = float(value) if value is not None else 2.0**attempt
    except ValueError:
        wait = 2.0**attempt
    return max(0.0, min(wait, MAX_RETRY_AFTER_S))


class IngestClient:
    """Posts event batches to ``<base_url>/api/v1/sources/<key>/events``."""

    def __init__(
        self,
        base_url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._parts = parts
        self._prefix = parts.path.rstrip("/")
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._connection: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is not None and time.monotonic() - self._last_used > IDLE_REUSE_S:
            self.close()
        if self._connection is None:
            factory = (
                http.client.HTTPSConnection
                if self._parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = factory(
                self._parts.hostname or "", self._parts.port, timeout=self._timeout_s
            )
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _once(
        self, path: str, body: bytes, content_type: str, key: str
    ) -> tuple[int, bytes, str | None]:
        connection = self._connect()
        headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": content_type,
            "Accept": "application/json",
        }
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            self._last_used = time.monotonic()
            return response.status, answer, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException):
            self.close()  # a broken kept-alive connection is replaced on the next attempt
            raise

    def post_events(self, source: str, key: str, body: bytes, content_type: str) -> Outcome:
        """Post one batch; retries on 429/503 (after Retry-After) and on connection errors."""
        path = f"{self._prefix}/api/v1/sources/{urllib.parse.quote(source)}/events"
        status = 0
        for attempt in range(MAX_ATTEMPTS):
            try:
                status, answer, retry_after = self._once(path, body, content_type, key)
            except (OSError, http.client.HTTPException) as exc:
                log.warning("post to %s failed (%s); retrying", source, type(exc).__name__)
                self._sleep(_retry_after(None, attempt))
                continue
            if status in _RETRY_STATUSES:
                self._sleep(_retry_after(retry_after, attempt))
                continue
            return _outcome(source, status, answer)
        log.warning(
            "gave up posting to %s after %d attempts (last status %s)", source, MAX_ATTEMPTS, status
        )
        return Outcome(status, 0, 0)


def _outcome(source: str, status: int, answer: bytes) -> Outcome:
    if status != 202:
        log.error(
            "post to %s answered %s: %s", source, status, answer[:300].decode(errors="replace")
        )
        return Outcome(status, 0, 0)
    document = json.loads(answer)
    return Outcome(status, int(document.get("accepted", 0)), int(document.get("rejected", 0)))
