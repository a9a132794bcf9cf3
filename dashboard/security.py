"""Hardening of every response: cookies, security headers, the CSP, same-origin POSTs, errors.

The CSP allows only this site: scripts from ``'self'`` plus the hashes of Dash's own inline
scripts (``Dash.csp_hashes()``), no ``'unsafe-inline'`` or ``'unsafe-eval'`` for scripts;
styles allow ``'unsafe-inline'`` because React and Plotly set inline styles (docs/security.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

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


def init_app(server: Flask, settings: Settings, script_hashes: Callable[[], Sequence[str]]) -> None:
    """Configure cookies and proxies; refuse cross-site POSTs; add headers; hide tracebacks.

    Args:
        script_hashes: the CSP hashes of the inline scripts the pages carry, computed once on
            the first response (``Dash.csp_hashes`` once every page is registered).
    """
    configure_cookies(server, settings)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    server.before_request(refuse_cross_origin)
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
    log.warning("refused cross-origin %s %s", request.method, request.path)
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
