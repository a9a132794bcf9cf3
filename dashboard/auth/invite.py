"""``/invite/<token>``: the one public page of the admin console, where an invited user (or one
given a password-reset link) chooses a password. Plain HTML posted to Flask, like ``/login``.

It reveals nothing without a valid token: an unknown, used, revoked or expired link, or one
of a deactivated user, all get the same 404 page, and every such request from a client
address counts against it; after ``login_max_failures`` of them within
``login_failure_window_s`` the address gets 429 (with Retry-After) for any link, valid or not,
until the window ends. Redis down: 503 rather than unthrottled guessing. The tokens carry 256
random bits, so the throttle is a second layer (and keeps scanners from loading the database).
"""

from __future__ import annotations

import datetime as dt
import logging

import redis
from flask import Blueprint, Flask, Response, current_app, render_template_string, request

from dashboard.auth.login import LOGIN_PATH, STATE_KEY, AuthState
from dashboard.auth.policy import current_services, session_connection
from models.admin.links import INVITE_PATH, MAX_PASSWORD, MIN_PASSWORD, InvalidLink, redeem_link
from models.admin.rules import AdminError
from models.admin.tables import LinkPurpose
from models.db import write_session
from models.queries.admin.links import OpenLink, open_link

log = logging.getLogger(__name__)
blueprint = Blueprint("invite", __name__)
ROUTE = f"{INVITE_PATH}<token>"
_PREFIX = "northstar:invite-failures"
INVALID = (
    "This link is not valid: it may have expired or been used already. "
    "Ask your administrator for a new one."
)
THROTTLED = "Too many invalid links from this address. Try again in {minutes} minute(s)."
UNAVAILABLE = "This page is unavailable right now; try again shortly."
MISMATCH = "The two passwords differ."


def init_app(server: Flask) -> None:
    server.register_blueprint(blueprint)


def _now() -> dt.datetime:
    state: AuthState = current_app.extensions[STATE_KEY]
    return dt.datetime.fromtimestamp(state.clock(), dt.UTC)


def _key() -> str:
    return f"{_PREFIX}:{request.remote_addr or 'unknown'}"


def _blocked_for() -> int | None:
    """Seconds this address must wait, or None when it may try a link."""
    services = current_services()
    with services.redis.pipeline(transaction=False) as pipe:
        pipe.get(_key())
        pipe.ttl(_key())
        count, ttl = pipe.execute()
    if count is not None and int(count) >= services.settings.login_max_failures:
        return int(ttl) if int(ttl) > 0 else services.settings.login_failure_window_s
    return None


def _count_failure() -> None:
    window = current_services().settings.login_failure_window_s
    with current_services().redis.pipeline(transaction=True) as pipe:
        pipe.incr(_key())
        pipe.expire(_key(), window, nx=True)
        pipe.execute()


def _gate() -> Response | None:
    """The 429 or 503 answer when this address may not try a link now."""
    try:
        wait_s = _blocked_for()
    except redis.RedisError:
        log.exception("invite throttle unavailable; refusing")
        return _page(None, UNAVAILABLE, 503)
    if wait_s is None:
        return None
    response = _page(None, THROTTLED.format(minutes=max(1, wait_s // 60)), 429)
    response.headers["Retry-After"] = str(wait_s)
    return response


def _invalid() -> Response:
    try:
        _count_failure()
    except redis.RedisError:
        log.exception("could not count an invalid invite link")
    return _page(None, INVALID, 404)


@blueprint.get(ROUTE)
def invite_form(token: str) -> Response:
    refused = _gate()
    if refused is not None:
        return refused
    with session_connection() as connection:
        link = open_link(connection, token, _now())
    if link is None:
        return _invalid()
    return _page(link, None, 200)


@blueprint.post(ROUTE)
def invite_submit(token: str) -> Response:
    refused = _gate()
    if refused is not None:
        return refused
    password = request.form.get("password", "")[: MAX_PASSWORD + 1]
    confirm = request.form.get("confirm", "")[: MAX_PASSWORD + 1]
    now = _now()
    with session_connection() as connection:
        link = open_link(connection, token, now)
    if link is None:
        return _invalid()
    if password != confirm:
        return _page(link, MISMATCH, 400)
    services = current_services()
    try:
        with write_session(services.engine, services.settings.statement_timeout_ms) as db:
            redeem_link(db, token, password, now)
    except InvalidLink:  # used or revoked between the read and the write
        return _invalid()
    except AdminError as exc:
        return _page(link, f"{str(exc)[:1].upper()}{str(exc)[1:]}.", 400)
    body = render_template_string(DONE_PAGE, login=LOGIN_PATH, email=link.email)
    return _no_referrer(Response(body, status=200, mimetype="text/html"))


def _page(link: OpenLink | None, error: str | None, status: int) -> Response:
    body = render_template_string(
        INVITE_PAGE,
        link=link,
        error=error,
        invited=link is not None and link.purpose is LinkPurpose.INVITE,
        min_password=MIN_PASSWORD,
        expires=f"{link.expires_at:%Y-%m-%d %H:%M} UTC" if link else "",
    )
    return _no_referrer(Response(body, status=status, mimetype="text/html"))


def _no_referrer(response: Response) -> Response:
    # The page's own address holds the token: its style sheets and the sign-in link must not
    # carry it in a Referer header (which access logs record). ``strict-origin`` sends the
    # origin alone; not ``no-referrer``, under which Chromium posts the form with
    # ``Origin: null`` and the same-origin check refuses the invitee's own password.
    response.headers["Referrer-Policy"] = "strict-origin"
    return response


_HEAD = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Choose a password · Northstar</title>
  <link rel="icon" href="/_favicon.ico">
  <link rel="stylesheet" href="/vendor/bootstrap/css/bootstrap.min.css">
  <link rel="stylesheet" href="/assets/northstar.css">
</head>
<body class="bg-body-tertiary">
  <main class="container py-5"><div class="row justify-content-center">
   <div class="col-sm-10 col-md-6 col-lg-4">
    <h1 class="h3 mb-4">Northstar</h1>
"""
_FOOT = """   </div>
  </div></main>
</body>
</html>
"""
INVITE_PAGE = (
    _HEAD
    + """    {% if error %}
    <div class="alert alert-danger" role="alert" id="invite-error">{{ error }}</div>
    {% endif %}
    {% if link %}
    <form method="post" class="card card-body shadow-sm" id="invite-form">
      <p>{% if invited %}Welcome, {{ link.name }}. Choose a password to finish setting up
      your account.{% else %}Choose a new password for your account.{% endif %}
      This link works once, until {{ expires }}.</p>
      <div class="mb-3">
        <label for="email" class="form-label">E-mail address</label>
        <input type="email" class="form-control" id="email" value="{{ link.email }}" readonly
               autocomplete="username">
      </div>
      <div class="mb-3">
        <label for="password" class="form-label">New password (at least {{ min_password }}
        characters)</label>
        <input type="password" class="form-control" id="password" name="password" required
               minlength="{{ min_password }}" autocomplete="new-password" autofocus>
      </div>
      <div class="mb-3">
        <label for="confirm" class="form-label">The same password again</label>
        <input type="password" class="form-control" id="confirm" name="confirm" required
               minlength="{{ min_password }}" autocomplete="new-password">
      </div>
      <button type="submit" class="btn btn-primary w-100">Set password</button>
    </form>
    {% endif %}
"""
    + _FOOT
)
DONE_PAGE = (
    _HEAD
    + """    <div class="alert alert-success" role="status" id="invite-done">Your password is set.
    Any other session of {{ email }} has ended.</div>
    <a class="btn btn-primary w-100" href="{{ login }}" id="invite-sign-in">Sign in</a>
"""
    + _FOOT
)
