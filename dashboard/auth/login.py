"""Sign-in and sign-out: flask-login set-up, the per-request user loader, ``/login``, ``/logout``.

``/login`` is a plain HTML form posted to Flask (no JavaScript needed to sign in); cross-site
posts are refused by :mod:`dashboard.security`, so no CSRF token is needed. Sign-in and
sign-out are written to ``access_log`` (page ``auth``), which records who reached what and when.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template_string,
    request,
    session,
)
from flask_login import LoginManager, login_user, logout_user  # type: ignore[import-untyped]
from sqlalchemy import update
from sqlalchemy.orm import Session

from dashboard.auth import sessions
from dashboard.auth.access_log import AccessEntry, AccessSink
from dashboard.auth.policy import (
    ACCESS_SINK_KEY,
    SERVICES_KEY,
    SignedInUser,
    current_principal,
    current_services,
    session_connection,
)
from dashboard.auth.templates import LOGIN_PAGE
from dashboard.auth.throttle import LoginThrottle
from ingest.runtime import Services
from models.accounts import find_user, hash_password, verify_password
from models.enums import Outcome
from models.permissions import AccessDenied
from models.queries.principals import Account, load_account
from models.users import User

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__)
STATE_KEY = "northstar.auth"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
WRONG_CREDENTIALS = "Wrong e-mail address or password."
MAX_EMAIL = 254
MAX_PASSWORD = 1024
UNKNOWN_ACCOUNT = "no such account"
"""What a failed sign-in's ``access_log`` detail says when the e-mail matched no account."""


@dataclass(frozen=True)
class AuthState:
    clock: sessions.Clock
    timeouts: sessions.Timeouts
    throttle: LoginThrottle
    dummy_hash: str
    """Checked against when the e-mail is unknown, so both answers take as long."""


def init_app(server: Flask, clock: sessions.Clock) -> None:
    """Set up flask-login and the sign-in routes on ``server`` (services already registered)."""
    services: Services = server.extensions[SERVICES_KEY]
    server.extensions[STATE_KEY] = AuthState(
        clock=clock,
        timeouts=sessions.Timeouts.from_settings(services.settings),
        throttle=LoginThrottle(services.redis, services.settings),
        dummy_hash=hash_password("not a password anyone has"),
    )
    manager = LoginManager()
    # Our own checks (sessions.why_ended) replace flask-login's IP/User-Agent fingerprinting,
    # which reads a forgeable X-Forwarded-For and logs out people whose address changes.
    manager.session_protection = None
    manager.user_loader(load_user)
    manager.init_app(server)
    server.register_blueprint(blueprint)


def _state() -> AuthState:
    state: AuthState = current_app.extensions[STATE_KEY]
    return state


def load_user(user_id: str) -> SignedInUser | None:
    """flask-login's loader: the account re-read for this request, if its session is valid."""
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        return None
    with session_connection() as connection:
        account = load_account(connection, uid)
    if account is None:
        session.clear()
        return None
    state = _state()
    now = state.clock()
    reason = sessions.why_ended(session, account, now, state.timeouts)
    if reason is not None:
        log.info("session of user %s refused: %s", uid, reason)
        g.northstar_refused_user_id = uid
        session.clear()
        return None
    sessions.touch(session, now)
    services = current_services()
    sessions.mark_grant_use(services.engine, account, now, services.settings.statement_timeout_ms)
    return SignedInUser(account)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/``: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@blueprint.get(LOGIN_PATH)
def login_form() -> Response:
    return _page(next_path=safe_next(request.args.get("next")), error=None, status=200)


@blueprint.post(LOGIN_PATH)
def login_submit() -> Response:
    email = request.form.get("email", "").strip()[:MAX_EMAIL]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    next_path = safe_next(request.form.get("next"))
    address = request.remote_addr or "unknown"
    state = _state()
    try:
        verdict = state.throttle.check(email, address)
    except redis.RedisError:
        log.exception("sign-in throttle unavailable; refusing sign-in")
        return _page(next_path, "Sign-in is unavailable right now; try again shortly.", 503)
    if not verdict.allowed:
        _log_failure(Outcome.THROTTLED, _account_id(email))
        message = (
            "Too many failed sign-ins for this account or from this address. "
            f"Try again in {max(1, verdict.retry_after_s // 60)} minute(s)."
        )
        response = _page(next_path, message, 429)
        response.headers["Retry-After"] = str(verdict.retry_after_s)
        return response
    account, matched_id = _check_credentials(email, password, state)
    if account is None:
        state.throttle.failed(email, address)
        _log_failure(Outcome.DENIED, matched_id)
        return _page(next_path, WRONG_CREDENTIALS, 401)
    state.throttle.succeeded(email)
    _sign_in(account, state)
    return redirect(next_path, code=303)  # type: ignore[return-value]


def _check_credentials(
    email: str, password: str, state: AuthState
) -> tuple[Account | None, int | None]:
    """The account these credentials open (or None: unknown, wrong, invited or deactivated
    alike), and the id of the account the e-mail matched, if any.

    Constant work: exactly one password hash is checked whatever the account's state, against
    the dummy hash when the e-mail is unknown or the account has no password yet (invited), so
    the answer's time tells nothing about the address.
    """
    services = current_services()
    with Session(services.engine) as db, db.begin():
        user = find_user(db, email) if email else None
        stored = user.password_hash if user is not None else None
        matches = verify_password(stored or state.dummy_hash, password) and stored is not None
        if user is None or not matches or not user.is_active:
            return None, user.id if user is not None else None
        now = dt.datetime.fromtimestamp(state.clock(), dt.UTC)
        db.execute(update(User).where(User.id == user.id).values(last_login_at=now))
        user_id = user.id
    with session_connection() as connection:
        return load_account(connection, user_id), user_id


def _account_id(email: str) -> int | None:
    """The id of the account ``email`` names, if any (no password is checked)."""
    if not email:
        return None
    with Session(current_services().engine) as db:
        user = find_user(db, email)
        return user.id if user is not None else None


def _sign_in(account: Account, state: AuthState) -> None:
    # A new session: nothing from before sign-in survives (no session fixation).
    session.clear()
    login_user(SignedInUser(account))
    sessions.start(session, account, state.clock())
    session.permanent = True
    _log_attempt(account, Outcome.OK, account.email)


@blueprint.post(LOGOUT_PATH)
def logout() -> Response:
    """End every session of the signed-in user (this cookie, replayed, is refused too)."""
    try:
        principal = current_principal()
    except AccessDenied:
        principal = None
    if principal is not None and principal.user_id is not None:
        with Session(current_services().engine) as db, db.begin():
            sessions.end_all_sessions(db, principal.user_id, "sign-out")
        _write(principal.user_id, "sign-out", Outcome.OK, {"session": _session_id()})
    logout_user()
    session.clear()
    return redirect(LOGIN_PATH, code=303)  # type: ignore[return-value]


def _session_id() -> str | None:
    return sessions.session_id(session)


def _log_attempt(account: Account, outcome: Outcome, email: str) -> None:
    _write(account.user_id, "sign-in", outcome, {"email": email, "session": _session_id()})


def _log_failure(outcome: Outcome, matched_id: int | None) -> None:
    """A refused sign-in: never what was typed (people type passwords into the e-mail box),
    only the id of the account the e-mail matched, or a marker that it matched none."""
    detail = {"account": matched_id} if matched_id is not None else {"account": UNKNOWN_ACCOUNT}
    _write(None, "sign-in", outcome, detail)


def _write(
    user_id: int | None, action: str, outcome: Outcome, detail: Mapping[str, object]
) -> None:
    sink: AccessSink = current_app.extensions[ACCESS_SINK_KEY]
    entry = AccessEntry(
        user_id=user_id,
        page="auth",
        action=action,
        scope=(),
        rows=0,
        outcome=outcome,
        client=request.remote_addr,
        detail=detail,
    )
    try:
        sink(entry)
    except Exception:
        log.exception("could not write access_log for %s", action)


def _page(next_path: str, error: str | None, status: int) -> Response:
    body = render_template_string(LOGIN_PAGE, next_path=next_path, error=error)
    return Response(body, status=status, mimetype="text/html")
