"""The request body limit of every route but the ingest API (``NORTHSTAR_WEB_MAX_BODY_BYTES``).

The ingest API (``/api/v1``) bounds its own bodies (``NORTHSTAR_INGEST_MAX_BYTES``, read in
``ingest.api_bodies``). Every other route (pages, ``/login``, ``/invite/<token>``, Dash
callbacks) gets this limit before anything reads the body: a declared length above it is
answered 413 at once, before the sign-in guard, the throttles or the route (so an anonymous
20 MiB form post to ``/invite/…`` is never parsed); a body without a declared length (chunked)
is cut by Werkzeug at the same bound (413 too), and form fields are bounded in memory alike.
"""

from __future__ import annotations

import functools

from flask import Flask, Response, jsonify, request

from models.settings import Settings

API_PREFIX = "/api/v1"


def init_app(server: Flask, settings: Settings) -> None:
    """Register the limit; call before any other ``before_request`` hook."""
    server.before_request(functools.partial(limit_body, settings.web_max_body_bytes))


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def limit_body(max_bytes: int) -> Response | None:
    """Bound this request's body; answer 413 when its declared length is above the bound."""
    if _is_api(request.path):
        return None
    request.max_content_length = max_bytes
    request.max_form_memory_size = max_bytes
    if request.content_length is None or request.content_length <= max_bytes:
        return None
    message = f"The request body is larger than the limit of {max_bytes} bytes."
    if request.path.startswith("/_dash-") or request.accept_mimetypes.best == "application/json":
        response = jsonify(error="payload_too_large", message=message)
    else:
        response = Response(message, mimetype="text/plain")
    response.status_code = 413
    response.headers["Connection"] = "close"
    return response
