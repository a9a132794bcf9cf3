"""guarded_callback(logs_ok=False): a callback that returns no business data (the live poll)
is not written to access_log when it answers; its refusals and errors still are."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask import Flask, g

from dashboard.auth import policy
from dashboard.auth.access_log import AccessEntry
from models.enums import Outcome
from models.permissions import ROLE_PERMISSIONS, AccessDenied, Permission, Principal
from models.queries.principals import Account

EXECUTIVE = Principal(7, ROLE_PERMISSIONS["executive"], ("1.2",), name="Elena")
STEWARD_WITHOUT_KPIS = Principal(8, frozenset({Permission.EVENT_VIEW}), ("1",), name="Sam")


@pytest.fixture
def logged() -> Iterator[list[AccessEntry]]:
    entries: list[AccessEntry] = []
    server = Flask("policy-logging-test")
    server.extensions[policy.ACCESS_SINK_KEY] = entries.append
    with server.test_request_context("/_dash-update-component", method="POST"):
        yield entries


def _sign_in(principal: Principal) -> None:
    g._login_user = policy.SignedInUser(
        Account(
            user_id=principal.user_id or 0,
            email="someone@example.com",
            display_name=principal.name,
            is_active=True,
            session_epoch=1,
            password_changed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            principal=principal,
        )
    )


@policy.guarded_callback(page="test", on_error=lambda error: error.outcome, logs_ok=False)
def poll(call: policy.CallContext, what: str) -> str:
    if what == "forged":
        raise ValueError("the live refresh state is not valid")
    if what == "broken":
        raise RuntimeError("boom")
    if what == "refused":
        raise AccessDenied("not yours")
    return "token"


def test_an_answered_call_is_not_logged(logged: list[AccessEntry]) -> None:
    _sign_in(EXECUTIVE)
    assert poll("fine") == "token"
    assert poll("fine") == "token"
    assert logged == []


@pytest.mark.parametrize(
    ("what", "outcome"),
    [("forged", Outcome.DENIED), ("refused", Outcome.DENIED), ("broken", Outcome.ERROR)],
)
def test_refusals_and_errors_are_still_logged(
    logged: list[AccessEntry], what: str, outcome: Outcome
) -> None:
    _sign_in(EXECUTIVE)
    assert poll(what) is outcome
    assert [(e.user_id, e.action, e.outcome) for e in logged] == [(7, "poll", outcome)]


def test_the_permission_check_still_applies_and_is_logged(logged: list[AccessEntry]) -> None:
    _sign_in(STEWARD_WITHOUT_KPIS)
    assert poll("fine") is Outcome.DENIED
    g._login_user = None
    assert poll("fine") is Outcome.DENIED
    assert [(e.user_id, e.outcome) for e in logged] == [(8, Outcome.DENIED), (None, Outcome.DENIED)]
