"""The access policy as plain functions: principals, require, guarded callbacks, sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, cast

import pydantic
import pytest
from flask import Flask, g
from sqlalchemy import Connection

from dashboard.auth import policy, sessions
from dashboard.auth.access_log import AccessEntry
from dashboard.auth.login import safe_next
from models.enums import Outcome
from models.permissions import ROLE_PERMISSIONS, AccessDenied, Permission, Principal
from models.queries.principals import Account

EXECUTIVE = Principal(7, ROLE_PERMISSIONS["executive"], ("1.2",), name="Elena")
TIMEOUTS = sessions.Timeouts(idle_s=1800, absolute_s=43200)


def _account(principal: Principal = EXECUTIVE, *, active: bool = True, epoch: int = 3) -> Account:
    return Account(
        user_id=principal.user_id or 0,
        email="elena@example.com",
        display_name=principal.name,
        is_active=active,
        session_epoch=epoch,
        password_changed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        principal=principal,
    )


@pytest.fixture
def logged() -> list[AccessEntry]:
    return []


@pytest.fixture
def app(logged: list[AccessEntry]) -> Iterator[Flask]:
    server = Flask("policy-test")
    server.extensions[policy.ACCESS_SINK_KEY] = logged.append
    with server.test_request_context("/_dash-update-component", method="POST"):
        yield server


def _sign_in(principal: Principal = EXECUTIVE, *, active: bool = True) -> None:
    g._login_user = policy.SignedInUser(_account(principal, active=active))


def test_principal_require_raises_naming_the_missing_permission() -> None:
    EXECUTIVE.require(Permission.KPI_VIEW)
    with pytest.raises(AccessDenied, match="pii:view"):
        EXECUTIVE.require(Permission.PII_VIEW)


def test_current_principal_refuses_anonymous_and_deactivated(app: Flask) -> None:
    g._login_user = None
    with pytest.raises(AccessDenied, match="sign in required"):
        policy.current_principal()
    _sign_in(active=False)
    with pytest.raises(AccessDenied):
        policy.current_principal()
    _sign_in()
    assert policy.current_principal() is EXECUTIVE
    assert policy.require(Permission.EVENT_VIEW) is EXECUTIVE
    with pytest.raises(AccessDenied):
        policy.require(Permission.USER_MANAGE)


@policy.guarded_callback(page="test", permission=Permission.KPI_VIEW)
def tiles(call: policy.CallContext, count: int) -> str:
    if count < 0:
        raise ValueError("count must not be negative")
    if count == 13:
        raise RuntimeError("database password is hunter2")
    if count == 99:
        raise policy.Throttled(12)
    if count == 42:
        pydantic.TypeAdapter(int).validate_python("not a number")
    call.rows = count
    return f"{count} tiles for {call.principal.name}"


def _message(result: Any) -> str:
    return str(result.children)


def test_guarded_callback_returns_data_and_logs_rows(app: Flask, logged: list[AccessEntry]) -> None:
    _sign_in()
    assert tiles(3) == "3 tiles for Elena"
    [entry] = logged
    assert (entry.user_id, entry.page, entry.action, entry.rows, entry.outcome) == (
        7,
        "test",
        "tiles",
        3,
        Outcome.OK,
    )
    assert entry.scope == ("1.2",)


@pytest.mark.parametrize(
    ("count", "outcome", "shown"),
    [
        (-1, Outcome.DENIED, "Invalid input: count must not be negative."),
        (42, Outcome.DENIED, "Invalid input: the request was refused."),
        (99, Outcome.THROTTLED, "Too many requests: please wait 12 s and try again."),
        (13, Outcome.ERROR, "Something went wrong; the error was logged."),
    ],
)
def test_guarded_callback_turns_failures_into_clean_messages(
    app: Flask, logged: list[AccessEntry], count: int, outcome: Outcome, shown: str
) -> None:
    _sign_in()
    assert _message(tiles(count)) == shown
    assert [(e.outcome, e.rows) for e in logged] == [(outcome, 0)]
    assert "hunter2" not in repr(logged)


def test_guarded_callback_rechecks_the_user_on_every_call(
    app: Flask, logged: list[AccessEntry]
) -> None:
    g._login_user = None
    assert _message(tiles(1)) == "Not allowed: sign in required."
    viewer = Principal(8, frozenset({Permission.EVENT_VIEW}), ("1",), name="No KPIs")
    _sign_in(viewer)
    assert _message(tiles(1)) == "Not allowed: missing permission kpi:view."
    assert [(e.user_id, e.outcome) for e in logged] == [(None, Outcome.DENIED), (8, Outcome.DENIED)]


def test_guarded_callback_withholds_data_it_cannot_log(app: Flask) -> None:
    def broken_sink(entry: AccessEntry) -> None:
        raise OSError("disk full")

    app.extensions[policy.ACCESS_SINK_KEY] = broken_sink
    _sign_in()
    assert _message(tiles(2)) == policy.UNLOGGED


def test_guarded_callback_uses_the_pages_error_shape(app: Flask) -> None:
    @policy.guarded_callback(page="test", on_error=lambda e: (None, e.message))
    def two_outputs(call: policy.CallContext) -> tuple[str | None, str]:
        raise AccessDenied("no such org unit in your scope")

    _sign_in()
    assert two_outputs() == (None, "Not allowed: no such org unit in your scope.")


@pytest.mark.parametrize("unit", [True, None, 1.5, [1], "", " ", "x" * 101, "a\nb"])
def test_authorize_unit_refuses_malformed_input_before_any_query(unit: object) -> None:
    with pytest.raises(ValueError, match="unit"):
        policy.authorize_unit(cast(Connection, None), EXECUTIVE, unit)


@pytest.mark.parametrize("unit", [0, -1, 2**31, 10**30])
def test_authorize_unit_refuses_impossible_ids_as_out_of_scope(unit: int) -> None:
    with pytest.raises(AccessDenied, match="no such org unit in your scope"):
        policy.authorize_unit(cast(Connection, None), EXECUTIVE, unit)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/kpi/revenue?period=7d", "/kpi/revenue?period=7d"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/x", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("/\r\nLocation: x", "/"),
        (None, "/"),
    ],
)
def test_safe_next_keeps_only_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def _stamped(now: float, account: Account) -> dict[str, Any]:
    session: dict[str, Any] = {}
    sessions.start(session, account, now)
    return session


def test_a_fresh_session_is_valid_until_idle_or_absolute_timeout() -> None:
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()
    account = _account()
    session = _stamped(now, account)
    assert sessions.why_ended(session, account, now + 60, TIMEOUTS) is None
    assert sessions.why_ended(session, account, now + 1800, TIMEOUTS) == "idle timeout"
    for step in range(1, 48):
        sessions.touch(session, now + step * 900)
    assert sessions.why_ended(session, account, now + 43200, TIMEOUTS) == "absolute timeout"


def test_a_session_ends_with_the_epoch_the_password_or_the_account() -> None:
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()
    session = _stamped(now, _account())
    assert sessions.why_ended(session, _account(epoch=4), now, TIMEOUTS) is not None
    assert sessions.why_ended(session, _account(active=False), now, TIMEOUTS) is not None
    later = dt.datetime.fromtimestamp(now + 5, dt.UTC)
    assert sessions.why_ended({}, _account(), now, TIMEOUTS) is not None
    moved = _with_password_changed(_account(), later)
    assert (
        sessions.why_ended(session, moved, now + 10, TIMEOUTS) == "password changed since sign-in"
    )


def _fields(account: Account) -> dict[str, Any]:
    return {name: getattr(account, name) for name in Account.__slots__}


def _with_password_changed(account: Account, at: dt.datetime) -> Account:
    return Account(**{**_fields(account), "password_changed_at": at})
