"""The ingest API (Flask blueprint under ``/api/v1``): producers post events with a source key.

``/api/v1`` authenticates with per-source API keys (``Authorization: Bearer ns_…``), never with
a dashboard session; the OpenAPI document is public. Every answer is JSON; every error is
``{"error": code, "message": text}`` (see docs/ingest-api.md and ``ingest.openapi``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import redis
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ingest import jobs, metrics, openapi
from ingest.api_batch import Accepted, accept_batch
from ingest.api_bodies import EVENT_TYPES, UPLOAD_TYPES, BodyError, read_batch
from ingest.contracts import CompiledContract
from ingest.reject_budget import RejectBudgetExceeded
from ingest.runtime import Services
from ingest.sources_cache import EdgeCatalog, KeyUsage, SourcesCache
from ingest.streams import Backpressure

log = logging.getLogger(__name__)
blueprint = Blueprint("ingest_api", __name__, url_prefix="/api/v1")
_STATE = "northstar.ingest_api"
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
MAX_ERRORS = 1_000
"""Per-record errors listed in a 202 answer; the rest are counted and quarantined."""
MAX_KEY_LENGTH = 200
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class _State:
    services: Services
    cache: SourcesCache
    usage: KeyUsage
    openapi_parts: list[dict[str, Any]] = field(default_factory=list)
    """Other APIs under ``/api/v1`` (the dashboard's read API) describe themselves here."""


def init_app(server: Flask, services: Services) -> None:
    """Register ``/api/v1`` on ``server``; nothing is loaded until the first request."""
    server.extensions[_STATE] = _State(services, SourcesCache(services), KeyUsage(services))
    server.register_blueprint(blueprint)


def add_openapi_part(server: Flask, part: dict[str, Any]) -> None:
    """Add another API's paths, schemas and security schemes to ``/api/v1/openapi.json``
    (after :func:`init_app`)."""
    state: _State = server.extensions[_STATE]
    state.openapi_parts.append(part)


class ApiError(Exception):
    """An answer other than 202: status, a stable code and a message for the producer."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        return json_response(
            {"error": self.code, "message": self.message}, self.status, self.headers
        )


def json_response(body: object, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(body), status, headers, mimetype="application/json")


def _state() -> _State:
    state: _State = current_app.extensions[_STATE]
    return state


@blueprint.route("/sources/<source_key>/events", methods=_METHODS)
def post_events(source_key: str) -> Response:
    """Accept a JSON array or NDJSON body of events for ``source_key``."""
    return _answer("events", lambda: _ingest(source_key, EVENT_TYPES))


@blueprint.route("/sources/<source_key>/uploads", methods=_METHODS)
def post_upload(source_key: str) -> Response:
    """Accept a CSV or JSON file (raw, or as the ``file`` part of a multipart form)."""
    return _answer("uploads", lambda: _ingest(source_key, UPLOAD_TYPES))


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 description of this API (public: it is documentation)."""
    return json_response(openapi.document(_state().openapi_parts), 200)


@blueprint.route("/", defaults={"rest": ""}, methods=_METHODS)
@blueprint.route("/<path:rest>", methods=_METHODS)
def not_found(rest: str) -> Response:
    """Unknown paths under /api/v1 answer in JSON too, not with the dashboard's HTML."""
    error = ApiError(404, "not_found", f"no such endpoint: {request.path}")
    return error.response()


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    return ApiError(exc.code or 500, code, exc.description or exc.name).response()


def _answer(endpoint: str, handle: Callable[[], Response]) -> Response:
    try:
        response = handle()
    except ApiError as exc:
        response = exc.response()
    metrics.REQUESTS.labels(endpoint, str(response.status_code)).inc()
    return response


def _ingest(source_key: str, allowed: tuple[str, ...]) -> Response:
    if request.method != "POST":
        raise ApiError(
            405, "method_not_allowed", "use POST for this endpoint", headers={"Allow": "POST"}
        )
    state = _state()
    settings = state.services.settings
    compiled, key_id = _authorise(_catalog(state), source_key)
    state.usage.mark(key_id, dt.datetime.now(dt.UTC))
    try:
        batch = read_batch(request, allowed, settings.ingest_max_bytes, settings.ingest_max_records)
    except BodyError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    try:
        accepted = accept_batch(state.services.redis, settings, compiled, batch, key_id)
    except RejectBudgetExceeded as exc:
        raise ApiError(
            429,
            "quarantine_budget",
            f"{exc}; nothing was accepted: fix the records (see the rejection reasons) or "
            "retry after the hour",
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    except Backpressure as exc:
        code = "unavailable" if exc.unavailable else "backlog_full"
        message = f"{exc.reason}; nothing was accepted, retry the whole request later"
        raise ApiError(
            503 if exc.unavailable else 429,
            code,
            message,
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    _trigger_drain(state.services, accepted.partitions, rejections=bool(accepted.errors))
    return json_response(_accepted_body(accepted), 202)


def _catalog(state: _State) -> EdgeCatalog:
    try:
        return state.cache.current()
    except redis.RedisError as exc:
        raise _unavailable("stream storage (Redis) is unavailable") from exc
    except SQLAlchemyError as exc:
        log.warning("ingest catalogue reload failed: %s", exc)
        raise _unavailable("the source catalogue cannot be loaded") from exc


def _unavailable(what: str) -> ApiError:
    return ApiError(
        503,
        "unavailable",
        f"{what}; nothing was accepted, retry later",
        headers={"Retry-After": "10"},
    )


def _unauthorised(message: str) -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        message,
        headers={"WWW-Authenticate": 'Bearer realm="northstar-ingest", error="invalid_token"'},
    )


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorised("send the source's API key as 'Authorization: Bearer <key>'")
    if len(token) > MAX_KEY_LENGTH:
        raise _unauthorised("the API key is not valid")
    return token


def _authorise(catalog: EdgeCatalog, source_key: str) -> tuple[CompiledContract, int]:
    """The source's compiled contract and the key's id, once the key is valid and may post
    to this source.

    The key is checked before the source is looked up, so that a caller without a valid key
    cannot tell which source keys exist.
    """
    key = catalog.key_for(_bearer_token())
    if key is None:
        raise _unauthorised("the API key is not valid (unknown or revoked)")
    now = dt.datetime.now(dt.UTC)
    if key.expires_at is not None and key.expires_at <= now:
        raise _unauthorised(
            f"the API key ns_{key.prefix}_… expired at {key.expires_at:%Y-%m-%d %H:%M} UTC"
        )
    source = catalog.sources.get(source_key)
    if source is None:
        raise ApiError(404, "not_found", f"no source with key {source_key!r}")
    if key.source_id != source.id:
        raise ApiError(403, "forbidden", f"this API key does not belong to source {source_key!r}")
    if not source.active:
        raise ApiError(403, "forbidden", f"source {source_key!r} is inactive")
    expires = source.partner_agreement_expires_at
    if expires is not None and expires <= now:
        ref = source.partner_agreement_ref or "the partner agreement"
        raise ApiError(
            403,
            "partner_agreement_expired",
            f"{ref} of source {source_key!r} expired at {expires:%Y-%m-%d %H:%M} UTC; "
            "ingestion is stopped until it is renewed",
        )
    compiled = catalog.contracts.get(source.id)
    if compiled is None:
        raise ApiError(409, "no_contract", f"source {source_key!r} has no contract yet")
    return compiled, key.key_id


def _trigger_drain(services: Services, partitions: Sequence[int], *, rejections: bool) -> None:
    try:
        jobs.trigger_drain(services, partitions, rejections=rejections)
    except Exception:
        # The records are durable in the streams; the periodic sweep drains them if this
        # trigger is lost, so the producer still gets its 202.
        log.exception("could not trigger drain jobs for partitions %s", list(partitions))


def _accepted_body(accepted: Accepted) -> dict[str, object]:
    errors = accepted.errors
    body: dict[str, object] = {
        "batch_id": accepted.batch_id,
        "accepted": accepted.accepted,
        "rejected": len(errors),
        "errors": [
            {"index": e.index, "field": e.field, "rule": e.rule, "reason": e.reason}
            for e in errors[:MAX_ERRORS]
        ],
    }
    if len(errors) > MAX_ERRORS:
        body["errors_truncated"] = True
    return body
