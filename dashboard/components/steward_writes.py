"""The write transaction of the steward console's actions (not a pure builder: it opens one).

A guarded callback that changes something (acknowledge an incident, mark notifications read)
runs the ``models`` function in its own :func:`write_session`: committed when the block ends
without an exception, rolled back otherwise, so a refused or failed action changes nothing.
Like :func:`dashboard.auth.policy.read_connection` it holds one of the database cap's slots
while open and is bounded by the statement timeout (a row lock held elsewhere cannot hang the
web process).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dashboard.auth.dbcap import Lease, QuerySlots
from dashboard.auth.policy import QUERY_SLOTS_KEY, current_services


def _slot() -> AbstractContextManager[Lease | None]:
    slots: QuerySlots | None = current_app.extensions.get(QUERY_SLOTS_KEY)
    return nullcontext() if slots is None else slots.slot()


@contextmanager
def write_session() -> Iterator[Session]:
    """A session in a transaction, committed on a clean exit and rolled back on an exception.

    Raises:
        DatabaseBusy: no slot of the database cap came free in time.
    """
    services = current_services()
    timeout_ms = str(int(services.settings.statement_timeout_ms))
    with _slot(), Session(services.engine) as session, session.begin():
        session.execute(select(func.set_config("statement_timeout", timeout_ms, True)))
        yield session
