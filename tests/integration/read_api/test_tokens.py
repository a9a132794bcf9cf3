"""Personal access tokens: shown once, stored hashed, and refused (401) the moment they or their
user stop being valid; made on the account page or by ``northstar tokens create``."""

from __future__ import annotations

import datetime as dt
import sys
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner
from flask import g
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from cli.main import cli
from dashboard.auth.policy import SignedInUser
from integration.read_api.support import GLOBAL, REGIONAL, World
from models.queries.principals import load_account
from models.tokens import AccessToken, hash_token

UPDATE = "/_dash-update-component"


def stored(engine: Engine) -> list[AccessToken]:
    with Session(engine) as session:
        return list(session.scalars(select(AccessToken).order_by(AccessToken.id)))


def reason(world: World, token: str) -> str:
    response = world.get(token, "/kpis")
    assert response.status_code == 401, response.text
    assert response.json["error"] == "unauthorized"
    assert "Bearer" in response.headers["WWW-Authenticate"]
    return str(response.json["reason"])


def test_a_token_is_stored_only_as_its_hash_and_records_its_use(world: World) -> None:
    token = world.token()

    (row,) = stored(world.engine)
    assert row.token_hash == hash_token(token)
    with world.engine.connect() as connection:
        dump = connection.execute(text("SELECT CAST(t AS text) FROM access_tokens t")).scalar_one()
    assert token not in dump
    assert token.split("_")[-1] not in dump
    assert row.last_used_at is None
    assert world.get(token, "/kpis").status_code == 200
    assert stored(world.engine)[0].last_used_at is not None


def test_missing_unknown_revoked_and_expired_tokens_are_401_with_the_reason(
    world: World,
) -> None:
    no_header = world.client().get("/api/v1/kpis")
    assert no_header.status_code == 401
    assert "Authorization: Bearer" in no_header.json["reason"]
    assert reason(world, "ns_12345678_a-source-key") == "not a personal access token (nsp_…)"
    assert reason(world, "nsp_12345678_unknown") == "unknown token"

    expired = world.token(expires_at=world.now - dt.timedelta(seconds=1))
    assert "expired at" in reason(world, expired)

    token = world.token()
    assert world.get(token, "/kpis").status_code == 200
    with world.engine.begin() as connection:
        connection.execute(text("UPDATE access_tokens SET revoked_at = now()"))
    assert "was revoked at" in reason(world, token)
    with world.engine.connect() as connection:
        logged = connection.execute(
            text("SELECT user_id, outcome, detail->>'status' FROM access_log WHERE page = 'api'")
        ).all()
    user = world.users[REGIONAL]
    assert [tuple(r) for r in logged] == [
        (user, "denied", "401"),  # expired: the token names its user
        (user, "ok", None),
        (user, "denied", "401"),  # revoked
    ]


def test_a_deactivated_users_token_stops_at_once(world: World) -> None:
    token = world.token()
    assert world.get(token, "/kpis").status_code == 200

    result = CliRunner().invoke(cli, ["users", "deactivate", "--email", REGIONAL])
    assert result.exit_code == 0, result.output

    assert reason(world, token) == "the token's user is deactivated"


def test_the_command_line_prints_a_token_once_that_works(world: World) -> None:
    result = CliRunner().invoke(
        cli, ["tokens", "create", "--email", GLOBAL, "--name", "nightly", "--expires-days", "30"]
    )

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("nsp_")
    assert "cannot show it again" in result.stderr
    (row,) = stored(world.engine)
    assert row.name == "nightly"
    assert row.expires_at is not None
    assert row.expires_at - world.now > dt.timedelta(days=29)
    assert world.get(token, "/kpis").status_code == 200
    unknown = CliRunner().invoke(cli, ["tokens", "create", "--email", "x@example.com"])
    assert unknown.exit_code == 1
    assert "no user with e-mail address x@example.com" in unknown.output


def home() -> ModuleType:
    """The account page module as the running app loaded it."""
    return sys.modules["dashboard.shell.pages.account"]


def call_as(world: World, email: str, fn: Any, *args: Any) -> Any:
    """A guarded callback called as a plain function, signed in as ``email``."""
    with world.app.test_request_context(UPDATE, method="POST"):
        with world.engine.connect() as connection:
            account = load_account(connection, world.users[email])
        assert account is not None
        g._login_user = SignedInUser(account)
        return fn(*args)


def text_of(node: Any) -> str:
    if hasattr(node, "to_plotly_json"):
        node = node.to_plotly_json()
    if isinstance(node, dict):
        return " ".join(text_of(v) for v in node.values())
    if isinstance(node, list | tuple):
        return " ".join(text_of(v) for v in node)
    return str(node) if node is not None else ""


def shown_token(node: Any) -> str:
    words = [w for w in text_of(node).split() if w.startswith("nsp_")]
    assert len(words) == 1, text_of(node)
    return words[0]


def test_the_account_page_creates_a_token_once_and_revokes_it(world: World) -> None:
    page = home()
    shown, done = call_as(world, REGIONAL, page.create_own_token, 1, "my script", "30")
    token = shown_token(shown)
    assert done is not None
    assert world.get(token, "/kpis").status_code == 200

    table, options = call_as(world, REGIONAL, page.token_list, done, None)
    assert "my script" in text_of(table)
    assert token not in text_of(table)  # never shown again
    (option,) = options
    # Another user cannot revoke it, even knowing its id.
    refusal, _ = call_as(world, GLOBAL, page.revoke_own_token, 1, str(option["value"]))
    assert "no such token among yours" in text_of(refusal)
    assert world.get(token, "/kpis").status_code == 200

    message, _ = call_as(world, REGIONAL, page.revoke_own_token, 1, str(option["value"]))

    assert "Revoked my script" in text_of(message)
    assert "was revoked" in reason(world, token)
    with world.engine.connect() as connection:
        actions = connection.execute(
            text("SELECT action FROM audit_log WHERE action LIKE 'access_token.%' ORDER BY id")
        ).scalars()
        assert list(actions) == ["access_token.create", "access_token.revoke"]


@pytest.mark.parametrize(("name", "expires"), [("", "30"), ("ok", "10000"), (None, "30")])
def test_the_account_page_refuses_bad_token_input(
    world: World, name: object, expires: object
) -> None:
    shown, _done = call_as(world, REGIONAL, home().create_own_token, 1, name, expires)

    assert "Invalid input" in text_of(shown)
    assert stored(world.engine) == []
