"""The one place that decides access: who is asking, what they may do, and guarded callbacks.

Page authors use four things (docs/security.md has examples):

- :func:`current_principal` and :func:`require` in layouts and helpers;
- :func:`authorize_unit` to turn a unit id or key from the browser into a unit in scope;
- :func:`guarded_callback` on every callback that returns data: it re-checks the signed-in user
  on each call, turns refusals and bad input into a clean message, and writes ``access_log``;
- :func:`read_connection` for a bounded read-only transaction of the query layer; it holds one
  of the database cap's slots while it is open (:mod:`dashboard.auth.dbcap`).

Each guarded call also spends the signed-in user's request budget (``dashboard.auth.ratelimit``,
registered under :data:`BUDGET_KEY`); over budget it answers the "too many requests" message.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import msgspec
import pydantic
from dash import html
from flask import Response, after_this_request, current_app, g, has_request_context, request
from flask_login import UserMixin, current_user  # type: ignore[import-untyped]
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dashboard.auth.access_log import AccessEntry, AccessSink
from dashboard.auth.dbcap import DatabaseBusy, Lease, QuerySlots
from dashboard.redact import redact
from ingest.runtime import Services
from models import db
from models.enums import Outcome
from models.permissions import AccessDenied, Permission, Principal
from models.queries import common
from models.queries.principals import Account
from models.queries.scope import OUT_OF_SCOPE, Unit, resolve_unit

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

SERVICES_KEY = "northstar"
ACCESS_SINK_KEY = "northstar.access_sink"
BUDGET_KEY = "northstar.request_budget"
QUERY_SLOTS_KEY = "northstar.query_slots"
SIGN_IN_REQUIRED = "sign in required"
UNLOGGED = "The answer could not be logged, so it is withheld; the error was logged."
BUSY = "The database is busy: please try again in a few seconds."
MAX_KEY_LENGTH = 100
_MAX_ID = 2**31 - 1


class SignedInUser(UserMixin):  # type: ignore[misc]
    """flask-login's ``current_user`` once the session passed its checks for this request."""

    def __init__(self, account: Account) -> None:
        self.account = account

    def get_id(self) -> str:
        return str(self.account.user_id)

    @property
    def is_active(self) -> bool:
        return self.account.is_active


class Throttled(Exception):
    """Raised by the throttling layer inside a guarded callback: too many requests for now."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many requests; retry after {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


ChargeRequest = Callable[[int], int | None]
"""Spends one unit of a user's request budget, at most once per request: the seconds to wait
when the budget is used up, None otherwise (``dashboard.auth.ratelimit``)."""


@dataclass(frozen=True, slots=True)
class UserFacingError:
    """What a guarded callback shows instead of data; never contains a trace or data."""

    message: str
    outcome: Outcome


@dataclass(slots=True)
class CallContext:
    """One guarded callback call; set ``rows`` (and ``detail``) for ``access_log``."""

    principal: Principal
    page: str
    action: str
    rows: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def current_services() -> Services:
    """The process's settings, engine and Redis client (from the app being served)."""
    services: Services = current_app.extensions[SERVICES_KEY]
    return services


@contextmanager
def read_connection() -> Iterator[Connection]:
    """A read-only transaction bounded by the statement timeout (models.queries.common).

    It holds a slot of the database cap while open; take one at a time, never nested.

    Raises:
        DatabaseBusy: no slot came free within NORTHSTAR_DB_QUERY_WAIT_S.
    """
    services = current_services()
    with _query_slot(), common.read_connection(services.engine, services.settings) as connection:
        yield connection


@contextmanager
def session_connection() -> Iterator[Connection]:
    """:func:`read_connection` outside the database cap, for the per-request session check only.

    That check is one primary-key read every request makes; capping it would turn a busy
    database into bare 503s before the page could say so.
    """
    services = current_services()
    with common.read_connection(services.engine, services.settings) as connection:
        yield connection


@contextmanager
def write_session() -> Iterator[Session]:
    """A write transaction for a guarded callback's action, committed on a clean exit and
    rolled back on an exception (so a refused or failed action changes nothing). Like
    :func:`read_connection` it holds a slot of the database cap and is bounded by the
    statement timeout.

    Raises:
        DatabaseBusy: no slot came free within NORTHSTAR_DB_QUERY_WAIT_S.
    """
    services = current_services()
    timeout_ms = int(services.settings.statement_timeout_ms)
    with _query_slot(), db.write_session(services.engine, timeout_ms) as session:
        yield session


def _query_slot() -> AbstractContextManager[Lease | None]:
    slots: QuerySlots | None = current_app.extensions.get(QUERY_SLOTS_KEY)
    return nullcontext() if slots is None else slots.slot()


def current_principal() -> Principal:
    """The signed-in user's principal, read from the database for this request.

    Raises:
        AccessDenied: nobody is signed in, the session has ended, or the user is deactivated.
    """
    user = current_user if has_request_context() else None
    if not isinstance(user, SignedInUser) or not user.account.is_active:
        raise AccessDenied(SIGN_IN_REQUIRED)
    return user.account.principal


def require(permission: Permission) -> Principal:
    """The current principal, if it holds ``permission``; AccessDenied otherwise."""
    principal = current_principal()
    principal.require(permission)
    return principal


def authorize_unit(connection: Connection, principal: Principal, unit: object) -> Unit:
    """The unit named by untrusted input (an id or a key), if it lies in the principal's scope.

    Raises:
        ValueError: ``unit`` is neither an integer id nor a short key string.
        AccessDenied: the unit is out of scope or does not exist (indistinguishably).
    """
    if isinstance(unit, bool) or not isinstance(unit, int | str):
        raise ValueError("a unit must be given by its id or key")
    if isinstance(unit, int):
        if not 0 < unit <= _MAX_ID:
            raise AccessDenied(OUT_OF_SCOPE)
        return resolve_unit(connection, principal, unit)
    key = unit.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValueError("a unit key must be 1 to 100 printable characters")
    return resolve_unit(connection, principal, key)


def error_view(error: UserFacingError) -> html.Div:
    """The default thing a guarded callback returns on refusal: a plain alert."""
    color = "danger" if error.outcome is Outcome.ERROR else "warning"
    return html.Div(error.message, role="alert", className=f"alert alert-{color} mb-0")


def guarded_callback(
    *,
    page: str,
    permission: Permission | None = Permission.KPI_VIEW,
    on_error: Callable[[UserFacingError], R] | None = None,
    logs_ok: bool = True,
) -> Callable[[Callable[Concatenate[CallContext, P], R]], Callable[P, R]]:
    """Wrap a data callback: ``fn(call, *inputs)`` becomes the callback ``wrapper(*inputs)``.

    On every call the signed-in user is re-read and re-checked (signed in, active, holds
    ``permission``) and spends one unit of the user's request budget. AccessDenied, bad input
    (ValueError, pydantic or msgspec validation errors), :class:`Throttled` and
    :class:`DatabaseBusy` become ``on_error(UserFacingError)`` (default
    :func:`error_view`; give one that matches your outputs for multi-output callbacks); any other
    exception is logged with its trace server-side and shown as a generic message. Every call
    writes one ``access_log`` entry with ``call.rows`` and the outcome.

    Args:
        page: the page's name for the log (e.g. ``"overview"``).
        permission: what the callback needs beyond being signed in; None for nothing more.
        logs_ok: False only for a callback that returns no business data (the live refresh
            poll, docs/security.md): its successful calls are not written to ``access_log``;
            its refusals and errors still are, and it still spends the request budget.
    """
    show = cast(Callable[[UserFacingError], R], on_error or error_view)

    def decorate(fn: Callable[Concatenate[CallContext, P], R]) -> Callable[P, R]:
        action = fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            call: CallContext | None = None
            try:
                principal = current_principal()
                call = CallContext(principal=principal, page=page, action=action)
                _spend_budget(principal)
                if permission is not None:
                    principal.require(permission)
                result = fn(call, *args, **kwargs)
            except Exception as exc:
                error = _user_facing(exc, page, action)
                _record(call, page, action, error.outcome, started, error.message)
                if isinstance(exc, Throttled | DatabaseBusy):
                    _send_retry_after(exc.retry_after_s)
                return show(error)
            if logs_ok and not _record(call, page, action, Outcome.OK, started, None):
                # Every data read is logged (docs/security.md): no log line, no data.
                return show(UserFacingError(UNLOGGED, Outcome.ERROR))
            return result

        return wrapper

    return decorate


def _spend_budget(principal: Principal) -> None:
    charge: ChargeRequest | None = current_app.extensions.get(BUDGET_KEY)
    if charge is None or principal.user_id is None:
        return
    wait_s = charge(principal.user_id)
    if wait_s is not None:
        raise Throttled(wait_s)


def _send_retry_after(seconds: float) -> None:
    """Dash can only render a 200 answer: the refusal's Retry-After rides on it."""
    if not has_request_context():
        return
    value = str(max(1, math.ceil(seconds)))

    def add_header(response: Response) -> Response:
        response.headers["Retry-After"] = value
        return response

    after_this_request(add_header)


def throttled_message(retry_after_s: float) -> str:
    """What a user over their request budget is told, in the UI and in a 429's body."""
    return f"Too many requests: please wait {retry_after_s:.0f} s and try again."


def record_refusal(message: str, status: int) -> bool:
    """Write ``access_log`` for a request refused before any callback ran (HTTP 429 or 503).

    Reads the user flask-login already loaded for this request, never loads it again.
    """
    user = g.get("_login_user")
    action = f"{request.method} {redact(request.path)}"
    call = None
    if isinstance(user, SignedInUser):
        call = CallContext(principal=user.account.principal, page="http", action=action)
    started = time.perf_counter()
    return _record(call, "http", action, Outcome.THROTTLED, started, message, status=status)


def record_access(
    call: CallContext | None,
    page: str,
    action: str,
    outcome: Outcome,
    started: float,
    message: str | None,
    *,
    status: int | None = None,
) -> bool:
    """Write the ``access_log`` entry of a request served outside Dash (the read API), as a
    guarded callback does; False (and a logged error) when it could not be written."""
    return _record(call, page, action, outcome, started, message, status=status)


def _user_facing(exc: Exception, page: str, action: str) -> UserFacingError:
    if isinstance(exc, AccessDenied):
        return UserFacingError(f"Not allowed: {exc}.", Outcome.DENIED)
    if isinstance(exc, Throttled):
        return UserFacingError(throttled_message(exc.retry_after_s), Outcome.THROTTLED)
    if isinstance(exc, DatabaseBusy):
        return UserFacingError(BUSY, Outcome.THROTTLED)
    if isinstance(exc, pydantic.ValidationError | msgspec.ValidationError):
        return UserFacingError("Invalid input: the request was refused.", Outcome.DENIED)
    if isinstance(exc, ValueError):
        return UserFacingError(f"Invalid input: {exc}.", Outcome.DENIED)
    log.exception("callback %s.%s failed", page, action)
    return UserFacingError("Something went wrong; the error was logged.", Outcome.ERROR)


def _record(
    call: CallContext | None,
    page: str,
    action: str,
    outcome: Outcome,
    started: float,
    message: str | None,
    *,
    status: int | None = None,
) -> bool:
    """Hand one entry to the app's access sink; False (and a logged error) when it failed."""
    principal = call.principal if call is not None else None
    detail = dict(call.detail) if call is not None else {}
    if message is not None:
        detail["refused"] = message
    if status is not None:
        detail["status"] = status
    entry = AccessEntry(
        user_id=principal.user_id if principal is not None else _claimed_user_id(),
        page=page,
        action=action,
        scope=principal.scope_paths if principal is not None else (),
        rows=call.rows if call is not None and outcome is Outcome.OK else 0,
        outcome=outcome,
        duration_ms=(time.perf_counter() - started) * 1000,
        client=request.remote_addr if has_request_context() else None,
        detail=detail,
    )
    sink: AccessSink = current_app.extensions[ACCESS_SINK_KEY]
    try:
        sink(entry)
    except Exception:
        log.exception("could not write access_log for %s.%s", page, action)
        return False
    return True


def _claimed_user_id() -> int | None:
    """The user a refused session was signed in as, if flask-login still knows it."""
    value = g.get("northstar_refused_user_id")
    return value if isinstance(value, int) else None
