"""Finding the records of a failing stream entry that cannot be written (the drain's fallback).

When an entry's write fails with an error in its data (a numeric overflow, text PostgreSQL
cannot hold, a partition refused), the records are written again one at a time, each in a
savepoint of one transaction that is rolled back at the end: those that fail are named with
their error, so the drain can quarantine them (rule ``unwritable``) and store their valid
siblings. Errors that say nothing about the data (PostgreSQL or Redis unavailable) are not
pinned on records: the entry stays pending and is retried.
"""

from __future__ import annotations

import dataclasses

import msgspec
import psycopg
from sqlalchemy.exc import DataError, IntegrityError

from ingest.bounds import EventWindow
from ingest.decode import Parsed, References, build_batch
from ingest.runtime import Services
from models.quarantine_store import insert_quarantined
from models.writes import write_events_in

_DATA_ERRORS = (
    DataError,
    IntegrityError,
    psycopg.DataError,
    psycopg.IntegrityError,
    ValueError,  # PartitionRefused, a value Python cannot convert
    OverflowError,  # a date or number beyond what Python's types hold
    ArithmeticError,
)


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` is about the data written, not about the database being reachable."""
    return isinstance(exc, _DATA_ERRORS)


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]


def unwritable_records(
    services: Services, refs: References, entry: Parsed, window: EventWindow
) -> dict[int, str]:
    """The records of ``entry`` (by request index) whose own write fails, with the error.

    Nothing is kept: every trial write is rolled back.

    Raises:
        Exception: anything that is not a data error (the database went away, …).
    """
    envelope = entry.envelope
    if envelope is None:
        return {}
    failing: dict[int, str] = {}
    allowed = window.days()
    with services.engine.connect() as connection:
        transaction = connection.begin()
        try:
            for record in envelope.records:
                alone = msgspec.structs.replace(envelope, records=[record])
                single = dataclasses.replace(entry, envelope=alone)
                try:
                    with connection.begin_nested():
                        decoded = build_batch(connection, refs, [single], {}, window)
                        for _source, rows in decoded.rows_by_source():
                            write_events_in(connection, rows, allowed_days=allowed)
                        insert_quarantined(connection, decoded.quarantine)
                except Exception as exc:
                    if not is_data_error(exc):
                        raise
                    failing[record.index] = error_text(exc)
        finally:
            transaction.rollback()
    return failing
