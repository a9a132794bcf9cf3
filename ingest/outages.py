"""Failures the environment caused, told apart from failures a batch caused.

A stream entry is quarantined as ``poison`` once it has been delivered more than
``ingest_max_deliveries`` times: the count is how often *the entry* made a write fail. An
outage of PostgreSQL (or of Redis, between commit and acknowledgement) fails every batch it
meets, whatever the batch holds; counting those failures would turn every accepted event of a
long outage into poison. So a batch that fails for a reason of the environment gives its
delivery back (:func:`ingest.streams.forgive_deliveries`) and the drain stops: the entries are
reclaimed when the environment is back, with the delivery count they had. See
docs/pipeline.md, "Outages are not the record's fault".
"""

from __future__ import annotations

import logging
import time

import psycopg
import redis
import sqlalchemy.exc

ENVIRONMENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
"""SQLSTATE classes no record causes: connection exception, transaction rollback
(serialization failure, deadlock), insufficient resources, operator intervention (admin or
crash shutdown, cannot connect now), system error."""
ENVIRONMENT_SQLSTATES = frozenset({"55P03"})
"""``lock_not_available``: another transaction (maintenance, a migration) holds the lock."""
RECORD_SQLSTATES = frozenset({"57014"})
"""Exceptions inside those classes: a statement timeout (``query_canceled``) may be the
batch's own doing (too large, pathological), so it counts as a delivery."""


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from (``raise … from``, SQLAlchemy's ``orig``); not the
    exceptions it was merely raised while handling, which say nothing of its own cause."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen) and len(seen) < 10:
        seen.append(current)
        orig = getattr(current, "orig", None)
        current = current.__cause__ or (orig if isinstance(orig, BaseException) else None)
    return seen


def _environmental(exc: BaseException) -> bool:
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return True  # includes BusyLoadingError (Redis loading its data after a restart)
    if isinstance(exc, sqlalchemy.exc.TimeoutError | sqlalchemy.exc.DisconnectionError):
        return True  # no pooled connection to be had, or it died on checkout
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, psycopg.InterfaceError):
        return True  # the connection is closed or broken
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        if state is None:
            return True  # failed to connect, or lost the server: no SQLSTATE at all
        if state in ENVIRONMENT_SQLSTATES:
            return True
        return state not in RECORD_SQLSTATES and state[:2] in ENVIRONMENT_SQLSTATE_CLASSES
    return False


def caused_by_environment(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a failure of PostgreSQL or
    Redis themselves rather than of the data written: such a failure must not count as a
    delivery of the entries in the batch."""
    return any(_environmental(e) for e in _causes(exc))


def describe(exc: BaseException) -> str:
    """One line: the exception's type and its message, whitespace collapsed, at most 500."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]


class OutageLog:
    """Logs an outage once when it starts and once when it ends, not at every failed attempt.

    One per process and resource (the drain's writes, a process's Redis connection): the
    first failure logs a warning, later ones only at debug level, and the first success after
    a failure logs how long the outage lasted.
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, consequence: str) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.logger.warning("%s unavailable (%s); %s", self.what, describe(exc), consequence)
        else:
            self.logger.debug("%s still unavailable (%s)", self.what, describe(exc))

    def recovered(self) -> None:
        if self.since is None:
            return
        took, failures = time.monotonic() - self.since, self.failures
        self.since, self.failures = None, 0
        self.logger.warning(
            "%s is back after %.1f s (%d failed attempts); resuming", self.what, took, failures
        )
