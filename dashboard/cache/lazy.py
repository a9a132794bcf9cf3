"""A page read's database connection, opened only when an answer is not in the cache.

A fully cached call then takes no database slot (``dashboard.auth.dbcap``), no pooled
connection and no transaction: only the per-request session check and ``access_log`` touch
PostgreSQL. Use it like :func:`dashboard.auth.policy.read_connection`::

    with lazy_connection() as connect:
        series = reads.kpi_series(cache, connect, kpi, unit, period, gran, now=now).get()

``connect()`` opens the read-only transaction (and takes the slot) on its first call and
returns the same connection after; the block's end closes it, if it was opened.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType

from sqlalchemy import Connection

from dashboard.auth.policy import read_connection

Connect = Callable[[], Connection]
"""What the cached reads take: the call's connection, opened when first needed."""


class LazyConnection:
    """:func:`~dashboard.auth.policy.read_connection`, entered on the first call."""

    def __init__(
        self, opener: Callable[[], AbstractContextManager[Connection]] = read_connection
    ) -> None:
        self._opener = opener
        self._stack = ExitStack()
        self._connection: Connection | None = None
        self._closed = False

    @property
    def opened(self) -> bool:
        """Whether the call needed the database."""
        return self._connection is not None

    def __call__(self) -> Connection:
        if self._closed:
            raise RuntimeError("the call's connection is closed")
        if self._connection is None:
            self._connection = self._stack.enter_context(self._opener())
        return self._connection

    def __enter__(self) -> LazyConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        self._closed = True
        return self._stack.__exit__(exc_type, exc, traceback)


def lazy_connection() -> LazyConnection:
    """The read connection of one guarded call, opened on first use (see the module)."""
    return LazyConnection()
