"""The ``before_request`` guard: sign-in required everywhere but a short list of public paths.

Public: the sign-in form and its POST, ``/healthz``, ``/readyz``, static files (Dash's component
suites, ``/assets/``, the vendored Bootstrap under ``/vendor/``, the favicon), the APIs under
``/api/v1`` (source API keys for ingest, personal access tokens for the read API, never
sessions), and ``/invite/<token>`` (one-time links to set a
password). ``/metrics`` answers loopback clients, or others with ``Authorization: Bearer
<NORTHSTAR_METRICS_TOKEN>``. Anonymous page requests are redirected
to ``/login?next=…``; anonymous Dash requests (``/_dash-*``) get 401 JSON, never a redirect.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode

from flask import Flask, Response, current_app, jsonify, redirect, request
from flask_login import current_user  # type: ignore[import-untyped]

from dashboard.auth.login import LOGIN_PATH
from dashboard.auth.policy import SERVICES_KEY
from ingest.runtime import Services

PUBLIC_PATHS = frozenset({LOGIN_PATH, "/healthz", "/readyz", "/_favicon.ico", "/api/v1"})
PUBLIC_PREFIXES = ("/api/v1/", "/_dash-component-suites/", "/assets/", "/vendor/", "/invite/")
"""``/invite/<token>`` sets a password through a one-time link (dashboard/auth/invite.py): it
answers one page for every invalid token and throttles them per address."""
METRICS_PATH = "/metrics"
JSON_PREFIXES = ("/_dash-", "/_reload-hash")


def init_app(server: Flask) -> None:
    server.before_request(require_sign_in)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def wants_json(path: str) -> bool:
    """Dash's own XHR endpoints, and clients that ask for JSON rather than a page."""
    if path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def require_sign_in() -> Response | None:
    """Let the request through, or answer it: a redirect, 401 or 403 (JSON)."""
    path = request.path
    if is_public(path):
        return None
    if path == METRICS_PATH:
        return _metrics_gate()
    if current_user.is_authenticated:
        return None
    if wants_json(path):
        response = jsonify(error="unauthenticated", message="Sign in required.")
        response.status_code = 401
        return response
    target = request.full_path if request.query_string else path
    return redirect(f"{LOGIN_PATH}?{urlencode({'next': target})}", code=302)  # type: ignore[return-value]


def _metrics_gate() -> Response | None:
    services: Services = current_app.extensions[SERVICES_KEY]
    token = services.settings.metrics_token
    if _is_loopback(request.remote_addr):
        return None
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return None
    response = jsonify(
        error="forbidden", message="/metrics answers loopback or a bearer token only."
    )
    response.status_code = 403
    return response


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
