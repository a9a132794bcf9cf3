"""Which failures count as a delivery of the batch's entries, and which are the environment's."""

from __future__ import annotations

import psycopg
import pytest
import redis
import sqlalchemy.exc
from psycopg import errors

from ingest.outages import caused_by_environment


def _wrapped(orig: Exception) -> sqlalchemy.exc.DBAPIError:
    """What SQLAlchemy raises around a driver error (``raise … from orig``)."""
    try:
        try:
            raise orig
        except Exception as exc:
            raise sqlalchemy.exc.DBAPIError.instance("INSERT …", {}, exc, psycopg.Error) from exc
    except sqlalchemy.exc.DBAPIError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.OperationalError("connection refused"),  # no SQLSTATE: never reached the server
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.SerializationFailure("could not serialize access"),
        errors.DeadlockDetected("deadlock detected"),
        errors.TooManyConnections("too many clients"),
        errors.DiskFull("no space left"),
        errors.LockNotAvailable("could not obtain lock on relation"),
        psycopg.InterfaceError("the connection is closed"),
        redis.ConnectionError("Connection refused"),
        redis.BusyLoadingError("Redis is loading the dataset in memory"),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_failures_of_the_servers_are_the_environments(exc: Exception) -> None:
    assert caused_by_environment(exc)
    if isinstance(exc, psycopg.Error):
        assert caused_by_environment(_wrapped(exc))


@pytest.mark.parametrize(
    "exc",
    [
        errors.NumericValueOutOfRange("value out of range: overflow"),
        errors.UniqueViolation("duplicate key"),
        errors.QueryCanceled("canceling statement due to statement timeout"),
        errors.ProgramLimitExceeded("index row size exceeds maximum"),
        errors.UntranslatableCharacter("unsupported Unicode escape sequence"),
        ValueError("a bug in the decoder"),
    ],
)
def test_failures_the_batch_causes_count_as_deliveries(exc: Exception) -> None:
    assert not caused_by_environment(exc)
    if isinstance(exc, psycopg.Error):
        assert not caused_by_environment(_wrapped(exc))


def _bad_record_during_an_outage() -> None:
    try:
        raise psycopg.OperationalError("server closed the connection")
    except psycopg.OperationalError:
        raise ValueError("bad record") from None


def test_an_error_raised_while_handling_an_outage_is_judged_on_its_own() -> None:
    with pytest.raises(ValueError, match="bad record") as caught:
        _bad_record_during_an_outage()
    assert caught.value.__context__ is not None
    assert not caused_by_environment(caught.value)
