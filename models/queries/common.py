"""What every read query shares: periods, limits, the scope predicate and the read transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from models.enums import Granularity
from models.facts import BUCKET_WIDTH
from models.settings import Settings

IN_SCOPE = "CAST(:scopes AS ltree[])"
"""Bind ``scopes`` (the principal's ltree paths) and write ``<path> <@ ANY(IN_SCOPE)``."""


class QueryTooLarge(ValueError):
    """The request would read or return more rows than the configured bounds allow."""


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Bounds of every query: rows returned (or buckets of a series), and events per page."""

    row_limit: int = Settings.model_fields["query_row_limit"].default
    events_page_max: int = Settings.model_fields["events_page_max"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(row_limit=settings.query_row_limit, events_page_max=settings.events_page_max)


DEFAULT_LIMITS = QueryLimits()


@contextmanager
def read_connection(engine: Engine, settings: Settings) -> Iterator[Connection]:
    """A read-only transaction bounded by ``settings.statement_timeout_ms``, in UTC.

    Set up in one round trip; its session time zone is UTC, so timestamps come back in
    ``datetime.UTC``
    (every read query works in UTC explicitly, so no answer depends on it, but hashing and
    comparing ``datetime.UTC`` values is several times cheaper than ``zoneinfo`` ones, which
    matters for series of hundreds of buckets).
    """
    timeout_ms = int(settings.statement_timeout_ms)
    with engine.connect() as connection, connection.begin():
        # No bound parameters: psycopg sends this as one simple query, three statements.
        connection.exec_driver_sql(
            "SET TRANSACTION READ ONLY; "
            f"SET LOCAL statement_timeout = {timeout_ms}; "
            "SET LOCAL TimeZone = 'UTC'"
        )
        yield connection


def scope_params(paths: tuple[str, ...]) -> dict[str, list[str]]:
    return {"scopes": list(paths)}


def floor_to(moment: dt.datetime, granularity: Granularity) -> dt.datetime:
    """The start of the UTC minute, hour or day that contains ``moment``."""
    moment = moment.astimezone(dt.UTC).replace(second=0, microsecond=0)
    if granularity is Granularity.MINUTE:
        return moment
    moment = moment.replace(minute=0)
    if granularity is Granularity.HOUR:
        return moment
    return moment.replace(hour=0)


def ceil_to(moment: dt.datetime, granularity: Granularity) -> dt.datetime:
    floored = floor_to(moment, granularity)
    return floored if floored == moment else floored + BUCKET_WIDTH[granularity]


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open UTC interval ``[start, end)`` on whole minutes (the finest rollup)."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            moment: dt.datetime = getattr(self, name)
            if moment.tzinfo is None:
                raise ValueError(f"period {name} must be timezone-aware")
            if floor_to(moment, Granularity.MINUTE) != moment:
                raise ValueError(
                    f"period {name} {moment.isoformat()} is not on a whole minute; "
                    "use Period.covering() to widen it"
                )
            object.__setattr__(self, name, moment.astimezone(dt.UTC))
        if self.start >= self.end:
            raise ValueError("period start must be before its end")

    @classmethod
    def covering(cls, start: dt.datetime, end: dt.datetime) -> Period:
        """The smallest period on whole minutes containing ``[start, end)``.

        "Today so far" is ``Period.covering(midnight, now)``: it includes the current minute.
        """
        return cls(floor_to(start, Granularity.MINUTE), ceil_to(end, Granularity.MINUTE))

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start

    @property
    def previous(self) -> Period:
        """The period of the same length that ends where this one starts."""
        return Period(self.start - self.length, self.start)
