"""Hardening of every response: cookies, security headers, the CSP, same-origin POSTs, errors.

Callback requests (``POST /_dash-update-component``) from signed-in users are checked against
the registered callbacks before Dash sees them: a malformed or unknown one gets a 400 with the
reason (429 once the user's request budget is spent: refused posts spend it too), never a 500
from inside Dash (docs/security.md, "Callback requests and the callback
sweep").

The CSP allows only this site: scripts from ``'self'`` plus the hashes of Dash's own inline
scripts (``Dash.csp_hashes()``), no ``'unsafe-inline'`` or ``'unsafe-eval'`` for scripts;
styles allow ``'unsafe-inline'`` because React and Plotly set inline styles (docs/security.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, request
from flask_login import current_user  # type: ignore[import-untyped]
from werkzeug.exceptions import InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import redact, request_limits
from dashboard.auth import ratelimit
from dashboard.auth.policy import (
    BUDGET_KEY,
    ChargeRequest,
    SignedInUser,
    record_refusal,
    throttled_message,
)
from models.settings import Environment, Settings

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CROSS_ORIGIN_EXEMPT = ("/api/v1/", "/api/v1")
"""The ingest API is called by machines with bearer keys, never with a browser's cookies."""
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/vendor/", "/_favicon.ico")
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)
SESSION_COOKIE_PRODUCTION = "__Host-northstar"
SESSION_COOKIE_DEV = "northstar_session"
CALLBACK_PATH = "/_dash-update-component"
DASH_KEY = "northstar.dash"
"""Where the app factory keeps the Dash app (``dashboard.app.DASH_KEY``)."""
MAX_CHANGED_PROPS = 100
PAGE_LOCATION_ID = "_pages_location"
"""The ``dcc.Location`` Dash's page router reads (``dash.dash._ID_LOCATION``)."""


def init_app(server: Flask, settings: Settings, script_hashes: Callable[[], Sequence[str]]) -> None:
    """Configure cookies and proxies; refuse cross-site POSTs; add headers; hide tracebacks.

    Args:
        script_hashes: the CSP hashes of the inline scripts the pages carry, computed once on
            the first response (``Dash.csp_hashes`` once every page is registered).
    """
    configure_cookies(server, settings)
    redact.install(server.logger.name)  # Flask logs "Exception on <path>" there
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    # First: an oversized body is refused before anything (the sign-in guard included) runs.
    request_limits.init_app(server, settings)
    server.before_request(refuse_cross_origin)
    server.before_request(refuse_malformed_callback)
    policy = _LazyPolicy(script_hashes)
    server.after_request(lambda response: add_headers(response, policy.value()))
    server.register_error_handler(InternalServerError, internal_error)


def configure_cookies(server: Flask, settings: Settings) -> None:
    secure = settings.env is Environment.PRODUCTION
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_PRODUCTION if secure else SESSION_COOKIE_DEV,
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=settings.session_absolute_timeout_s,
        # flask-login's remember-me cookie is never set; harden it anyway.
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )


def content_security_policy(script_hashes: Sequence[str]) -> str:
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class _LazyPolicy:
    def __init__(self, script_hashes: Callable[[], Sequence[str]]) -> None:
        self._hashes = script_hashes
        self._value: str | None = None

    def value(self) -> str:
        if self._value is None:
            self._value = content_security_policy(self._hashes())
        return self._value


def is_same_origin() -> bool:
    """Whether a state-changing request comes from a page of this site.

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` with every POST; a request with neither is
    not from a browser (curl, tests) and so carries no victim's cookies.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return bool(parts.scheme in ("http", "https") and parts.netloc == request.host)


def refuse_cross_origin() -> Response | None:
    if request.method not in UNSAFE_METHODS or request.path.startswith(CROSS_ORIGIN_EXEMPT):
        return None
    if is_same_origin():
        return None
    log.warning("refused cross-origin %s %s", request.method, redact.redact(request.path))
    response = jsonify(error="cross_origin", message="Cross-origin requests are refused.")
    response.status_code = 403
    return response


def add_headers(response: Response, csp: str) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith(STATIC_PREFIXES):
        # Pages, layouts, callbacks and API answers carry data: never kept by any cache.
        headers["Cache-Control"] = "no-store"
        headers.add("Vary", "Cookie")
    return response


def internal_error(error: InternalServerError) -> tuple[Response, int]:
    """A plain message for any unhandled error: Flask logs the trace; the client never sees it."""
    del error
    if request.path.startswith(("/_dash-", "/api/")) or request.is_json:
        response = jsonify(error="internal", message="Internal error; it was logged.")
    else:
        response = Response("Internal error; it was logged.", mimetype="text/plain", status=500)
    return response, 500


class MalformedCallback(ValueError):
    """A callback request that no page of this site could have sent; the message says why."""


def refuse_malformed_callback() -> Response | None:
    """Answer 400 (or 415) to a signed-in user's callback request Dash would choke on.

    Anonymous requests pass on to the sign-in guard, so they get its 401 and learn nothing
    about which callbacks exist. The reason never echoes the request.
    """
    if request.method != "POST" or request.path != CALLBACK_PATH:
        return None
    if not current_user.is_authenticated:
        return None
    if not request.is_json:
        return _over_budget() or _bad_callback(
            "the body must be JSON (Content-Type: application/json)", 415
        )
    try:
        body = _json_body()
        check_callback_body(body, _callback_map())
    except MalformedCallback as exc:
        return _over_budget() or _bad_callback(str(exc), 400)
    return None


def _over_budget() -> Response | None:
    """Spend the user's request budget for a refused callback post, as for any other: a
    client posting malformed callbacks is throttled (429) like one posting valid ones."""
    charge: ChargeRequest | None = current_app.extensions.get(BUDGET_KEY)
    if charge is None or not isinstance(current_user, SignedInUser):
        return None
    wait_s = charge(current_user.account.user_id)
    if wait_s is None:
        return None
    message = throttled_message(wait_s)
    record_refusal(message, 429)
    return ratelimit.refusal(429, message, wait_s)


def _bad_callback(reason: str, status: int) -> Response:
    log.info("refused callback request: %s", reason)
    response = jsonify(error="bad_callback_request", message=f"Malformed callback: {reason}.")
    response.status_code = status
    return response


def _json_body() -> object:
    try:
        return json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        # RecursionError: nesting too deep for the parser, which Flask would turn into a 500.
        raise MalformedCallback("the body is not valid JSON") from None


def _callback_map() -> Mapping[str, Mapping[str, Any]]:
    dash_app = current_app.extensions.get(DASH_KEY)
    if dash_app is None:
        # No Dash app means no callbacks: refuse rather than pass unchecked bodies through.
        return {}
    callbacks: Mapping[str, Mapping[str, Any]] = dash_app.callback_map
    return callbacks


def check_callback_body(body: object, callbacks: Mapping[str, Mapping[str, Any]]) -> None:
    """Check the envelope of a callback request against the registered callbacks.

    The values are the callbacks' business (guarded_callback checks them); this checks what
    Dash itself relies on: a known server-side callback, and outputs, inputs and state that
    name exactly the declared component properties, in order. The one exception is Dash's own
    page router, which is not guarded and fails on anything but a path and a query string.

    Raises:
        MalformedCallback: with a reason fit for the caller.
    """
    if not isinstance(body, dict):
        raise MalformedCallback("the body must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str):
        raise MalformedCallback("'output' must name a callback")
    spec = callbacks.get(output)
    if spec is None:
        raise MalformedCallback("no such callback")
    if "callback" not in spec:
        raise MalformedCallback("that callback runs in the browser, not on the server")
    if not spec.get("no_output"):
        _check_outputs(body.get("outputs"), spec["output"])
    _check_dependencies("inputs", body.get("inputs", []), spec["inputs"])
    _check_dependencies("state", body.get("state", []), spec["state"])
    changed = body.get("changedPropIds", [])
    if (
        not isinstance(changed, list)
        or len(changed) > MAX_CHANGED_PROPS
        or not all(isinstance(c, str) for c in changed)
    ):
        raise MalformedCallback("'changedPropIds' must be a list of strings")


def _check_outputs(sent: object, declared: Any) -> None:
    """Dash's renderer sends one output as an object, several (or a list of one) as a list."""
    if isinstance(declared, list | tuple):
        wanted = [d.to_dict() for d in declared]
        if not isinstance(sent, list) or len(sent) != len(wanted):
            raise MalformedCallback(f"'outputs' must list {len(wanted)} outputs")
        for position, (item, want) in enumerate(zip(sent, wanted, strict=True), start=1):
            _check_dependency("outputs", position, item, want)
    else:
        _check_dependency("outputs", 1, sent, declared.to_dict())


def _check_dependencies(field: str, sent: object, declared: Sequence[Mapping[str, Any]]) -> None:
    if not isinstance(sent, list) or len(sent) != len(declared):
        raise MalformedCallback(f"'{field}' must list {len(declared)} entries")
    for position, (item, want) in enumerate(zip(sent, declared, strict=True), start=1):
        _check_dependency(field, position, item, want)


def _check_dependency(field: str, position: int, item: object, want: Mapping[str, Any]) -> None:
    """One entry: ``{"id", "property"[, "value"]}`` naming the declared component property.

    A pattern-matching dependency (its declared id is a JSON object) may arrive as one entry
    with an object id, or as a list of them (``ALL``); Dash matches those ids itself.
    """
    declared_id = str(want["id"])
    wildcard = declared_id.startswith("{")
    entries = item if wildcard and isinstance(item, list) else [item]
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("property") != want["property"]:
            raise MalformedCallback(f"{field} entry {position} must be the declared property")
        sent_id = entry.get("id")
        matches = isinstance(sent_id, dict) if wildcard else sent_id == declared_id
        if not matches:
            raise MalformedCallback(f"{field} entry {position} names another component")
        if sent_id == PAGE_LOCATION_ID and field != "outputs":
            _check_location(entry.get("property"), entry.get("value"))


def _check_location(prop: object, value: object) -> None:
    """The router's location is what a browser's address bar holds: a path, a query string."""
    if prop == "pathname":
        valid = isinstance(value, str) and value.startswith("/")
    else:
        valid = value is None or isinstance(value, str)
    if not valid:
        raise MalformedCallback("the page location must be a path and a query string")
