"""Smaller holes of the web app, over HTTP: one-time links on the configured address only,
sign-in doing the same work whatever the account state and logging nothing typed, refused
callback posts spending the request budget, a body limit on every route but the ingest API,
and one-time link tokens kept out of every request log."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from flask import Flask
from gunicorn.config import Config
from gunicorn.glogging import Logger
from sqlalchemy import Engine, text

from dashboard import redact
from dashboard.app import create_app
from dashboard.auth import login
from integration.admin_support import EMAILS, Console, answer_text, console, invite_path, rows, seed
from integration.auth_support import PASSWORD, sign_in
from integration.shell.throttling_support import BUDGET, build, signed_in
from integration.steward_support import Caller
from models.accounts import verify_password
from models.admin.links import link_base
from models.admin.rules import AdminError
from models.settings import Environment, Settings

__all__ = ["build", "console"]  # fixtures

UPDATE = "/_dash-update-component"
CREATE = "admin-new-create-result"
TOKEN = "Zz9-secret-token-of-the-link_0123456789abcdefghijkl"


def invite(console: Console, caller_who: str = "admin", **client_env: Any) -> str:
    """Invite a new unit3 user; the one-time link as shown to the admin."""
    caller = console.caller(caller_who)
    caller.client.environ_base.update(client_env)
    return answer_text(caller, CREATE, 1, "ivy@example.com", "Ivy", [], [3], "invite", "")


# --- one-time links on NORTHSTAR_PUBLIC_URL ------------------------------------------------------


def test_links_are_made_on_the_public_url_whatever_host_the_request_names(
    db: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    seed(db)
    public = settings.model_copy(
        update={"public_url": "https://northstar.example.com/", "rate_limit_enabled": False}
    )
    app = create_app(public)
    try:
        client = app.test_client()
        assert sign_in(client, email=EMAILS["admin"], password=PASSWORD).status_code == 303
        caller = Caller(client)
        client.environ_base["HTTP_HOST"] = "evil.example"
        shown = answer_text(caller, CREATE, 1, "ivy@example.com", "Ivy", [], [3], "invite", "")
        assert "https://northstar.example.com/invite/" in shown
        assert "evil.example" not in shown
    finally:
        app.extensions["northstar"].close()


def test_production_makes_no_link_without_the_public_url(settings: Settings) -> None:
    production = settings.model_copy(update={"env": Environment.PRODUCTION, "public_url": None})
    with pytest.raises(AdminError, match="NORTHSTAR_PUBLIC_URL is not set"):
        link_base(production, "https://evil.example/")
    dev = settings.model_copy(update={"public_url": None})
    assert link_base(dev, "http://localhost:8050/") == "http://localhost:8050"
    configured = production.model_copy(update={"public_url": "https://n.example.com/"})
    assert link_base(configured, "https://evil.example/") == "https://n.example.com"


# --- sign-in: constant work, nothing typed kept ------------------------------------------------


def test_sign_in_checks_one_real_hash_whatever_the_account_state(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown e-mail, an invited account (no password yet), a deactivated one and a wrong
    password: each costs exactly one check of a real hash, so timing tells them apart no more."""
    checked: list[str | None] = []

    def counting(password_hash: str | None, password: str) -> bool:
        checked.append(password_hash)
        return verify_password(password_hash, password)

    monkeypatch.setattr(login, "verify_password", counting)
    with console.db.begin() as connection:
        connection.execute(
            text("UPDATE users SET password_hash = NULL WHERE email = :e"),
            {"e": EMAILS["no_role"]},
        )
        connection.execute(
            text("UPDATE users SET is_active = false WHERE email = :e"), {"e": EMAILS["other"]}
        )
    attempts = {
        "unknown": ("nobody@example.com", PASSWORD),
        "invited": (EMAILS["no_role"], PASSWORD),
        "deactivated": (EMAILS["other"], PASSWORD),
        "wrong": (EMAILS["executive"], "not the password at all"),
    }
    for state, (email, password) in attempts.items():
        checked.clear()
        client = console.client(None, address=f"10.9.0.{len(state)}")
        assert sign_in(client, email=email, password=password).status_code == 401, state
        assert len(checked) == 1, state
        assert isinstance(checked[0], str), state
        assert checked[0].startswith("scrypt:"), state
    # An invited account never signs in, whatever is typed (not even the dummy's secret).
    checked.clear()
    client = console.client(None, address="10.9.1.1")
    assert sign_in(client, email=EMAILS["no_role"], password="").status_code == 401


def sign_in_rows(db: Engine) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT user_id, CAST(outcome AS text) AS outcome, detail FROM access_log "
        "WHERE page = 'auth' AND action = 'sign-in' ORDER BY id",
    )


def test_a_failed_sign_in_stores_the_matched_account_never_what_was_typed(
    console: Console,
) -> None:
    typed = "my secret passphrase 42"  # a password typed into the e-mail box
    client = console.client(None, address="10.9.2.1")
    assert sign_in(client, email=typed, password="x").status_code == 401
    wrong = console.client(None, address="10.9.2.2")
    assert sign_in(wrong, email=EMAILS["executive"], password=typed).status_code == 401
    for _ in range(5):  # NORTHSTAR_LOGIN_MAX_FAILURES, then throttled
        sign_in(client, email=typed, password="x")
    assert sign_in(client, email=typed, password="x").status_code == 429
    logged = sign_in_rows(console.db)
    assert typed not in str(logged)
    assert logged[0] == {
        "user_id": None,
        "outcome": "denied",
        "detail": {"account": "no such account"},
    }
    assert logged[1]["detail"] == {"account": console.users["executive"]}
    assert logged[-1]["outcome"] == "throttled"
    assert logged[-1]["detail"] == {"account": "no such account"}


# --- refused callback posts spend the budget ----------------------------------------------------


def test_malformed_callback_posts_spend_the_request_budget(
    build: Callable[..., Any], db: Engine
) -> None:
    site = build()
    client = signed_in(site)
    for _ in range(BUDGET):
        refused = client.post(UPDATE, json={"output": "no-such-callback.children"})
        assert refused.status_code == 400
    over = client.post(UPDATE, json={"output": "no-such-callback.children"})
    assert over.status_code == 429
    assert int(over.headers["Retry-After"]) >= 1
    not_json = client.post(UPDATE, data="x", content_type="text/plain")
    assert not_json.status_code == 429
    logged = rows(db, "SELECT action FROM access_log WHERE page = 'http' ORDER BY id")
    assert [r["action"] for r in logged] == [f"POST {UPDATE}"] * 2
    # The budget is the user's: other requests are refused too.
    assert client.get("/_dash-layout").status_code == 429


# --- a body limit on every route but the ingest API ---------------------------------------------


def test_a_large_body_is_refused_413_before_anything_reads_it(
    console: Console, redis_client: redis.Redis
) -> None:
    anonymous = console.client(None, address="10.9.3.1")
    big = io.BytesIO(b"x" * (20 * 1024 * 1024))
    response = anonymous.post(
        f"/invite/{TOKEN}",
        data={"password": (big, "a.bin"), "confirm": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "larger than the limit of 1048576 bytes" in response.get_data(as_text=True)
    # The token was never checked: no invalid-link failure was counted for the address.
    assert not list(redis_client.scan_iter("northstar:invite-failures:*"))
    assert anonymous.post("/login", data={"email": "a" * (2 * 1024 * 1024)}).status_code == 413
    admin = console.client("admin")
    huge = {"output": "x", "padding": "y" * (2 * 1024 * 1024)}
    refused = admin.post(UPDATE, json=huge)
    assert refused.status_code == 413
    assert refused.get_json()["error"] == "payload_too_large"
    # The ingest API keeps its own, larger limit (NORTHSTAR_INGEST_MAX_BYTES).
    api = anonymous.post("/api/v1/events", data=b"[" + b" " * (2 * 1024 * 1024) + b"]")
    assert api.status_code != 413


def test_the_body_limit_is_configurable(
    db: Engine, redis_client: redis.Redis, settings: Settings
) -> None:
    app: Flask = create_app(settings.model_copy(update={"web_max_body_bytes": 1000}))
    try:
        client = app.test_client()
        assert client.post("/login", data={"email": "a" * 2000}).status_code == 413
        assert client.post("/login", data={"email": "a" * 100}).status_code == 401
    finally:
        app.extensions["northstar"].close()


# --- one-time link tokens in no log -------------------------------------------------------------


@pytest.fixture
def gunicorn_log() -> Iterator[tuple[Logger, io.StringIO]]:
    config = Config()
    config.set("accesslog", "-")
    logger = Logger(config)
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    logger.access_log.addHandler(handler)
    yield logger, captured
    logger.access_log.removeHandler(handler)


def test_the_gunicorn_access_log_never_shows_a_link_token(
    gunicorn_log: tuple[Logger, io.StringIO],
) -> None:
    redact.install()  # what gunicorn.conf.py and the app factory do
    logger, captured = gunicorn_log
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/invite/{TOKEN}?x=1",
        "PATH_INFO": f"/invite/{TOKEN}",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.9",
        "HTTP_REFERER": f"https://northstar.example.com/invite/{TOKEN}",
        "HTTP_USER_AGENT": "test",
    }
    response = SimpleNamespace(status="200 OK", sent=12, headers=[])
    request = SimpleNamespace(headers=[("Referer", environ["HTTP_REFERER"])])
    logger.access(response, request, environ, dt.timedelta(milliseconds=5))
    line = captured.getvalue()
    assert "POST /invite/[redacted]?x=1 HTTP/1.1" in line
    assert "https://northstar.example.com/invite/[redacted]" in line
    assert TOKEN not in line


def test_request_logs_and_the_invite_page_never_carry_a_link_token(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    shown = invite(console)
    path = invite_path(shown)
    token = path.rsplit("/", 1)[1]
    anonymous = console.client(None, address="10.9.4.1")
    page = anonymous.get(path)
    assert page.status_code == 200
    # The page's style sheets and links send the origin alone as Referer, never the token.
    assert page.headers["Referrer-Policy"] == "strict-origin"
    with caplog.at_level(logging.INFO):
        forged = anonymous.post(path, data={}, headers={"Origin": "https://evil.example"})
        assert forged.status_code == 403
        logging.getLogger("werkzeug").info(
            '%s - - "%s" %s', "10.0.0.1", f"GET {path} HTTP/1.1", 200
        )
        # Flask's own line for an unhandled error, and gunicorn's.
        console.app.logger.error(f"Exception on {path} [POST]")
        logging.getLogger("gunicorn.error").error("Error handling request %s", path)
    assert "refused cross-origin POST /invite/[redacted]" in caplog.text
    assert "Exception on /invite/[redacted] [POST]" in caplog.text
    assert "Error handling request /invite/[redacted]" in caplog.text
    assert token not in caplog.text
    assert token not in str(rows(console.db, "SELECT * FROM access_log"))
