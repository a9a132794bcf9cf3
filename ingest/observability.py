"""Health, readiness and Prometheus metrics endpoints, and the Redis durability warning."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ingest import metrics
from ingest.runtime import Services
from ingest.streams import GROUP, stream_key
from models.migrate import heads

log = logging.getLogger(__name__)
blueprint = Blueprint("observability", __name__)
_SERVICES = "northstar.observability"


def init_app(server: Flask, services: Services) -> None:
    """Serve ``/healthz``, ``/readyz`` and ``/metrics``; warn when Redis is not durable."""
    server.extensions[_SERVICES] = services
    server.register_blueprint(blueprint)
    problem = redis_durability_problem(services.redis)
    if problem:
        log.warning("%s", problem)


def redis_durability_problem(client: redis.Redis) -> str | None:
    """Why accepted events could be lost on a Redis restart, or None when AOF is on."""
    try:
        persistence: dict[str, Any] = client.info("persistence")
    except redis.RedisError as exc:
        return f"Redis is unreachable at start-up ({type(exc).__name__}); ingest will answer 503"
    if not int(persistence.get("aof_enabled", 0)):
        return (
            "Redis runs without an append-only file (appendonly no): events accepted by the "
            "API but not yet committed are lost if Redis restarts. Run Redis with "
            "`appendonly yes` (docs/architecture.md, Ingest)."
        )
    return None


def _services() -> Services:
    services: Services = current_app.extensions[_SERVICES]
    return services


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is up and serving; says nothing of its dependencies."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when PostgreSQL and Redis answer and the schema is at the migrations' head."""
    services = _services()
    checks = {"postgresql": _check_database(services), "redis": _check_redis(services)}
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def _check_database(services: Services) -> str:
    try:
        with services.engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        return f"unreachable: {type(exc).__name__}"
    expected = heads()
    if version not in expected:
        return f"schema at {version}, migrations head is {', '.join(expected)}"
    return "ok"


def _check_redis(services: Services) -> str:
    try:
        services.redis.ping()
    except redis.RedisError as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@blueprint.get("/metrics")
def prometheus_metrics() -> Response:
    services = _services()
    _update_stream_gauges(services)
    if services.settings.prometheus_multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
            registry, path=services.settings.prometheus_multiproc_dir
        )
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    response = Response(payload, mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def _update_stream_gauges(services: Services) -> None:
    """Backlog and pending entries are read from Redis at scrape time, not tracked."""
    partitions = range(services.settings.ingest_partitions)
    try:
        with services.redis.pipeline(transaction=False) as pipe:
            for partition in partitions:
                pipe.xlen(stream_key(partition))
                pipe.xpending(stream_key(partition), GROUP)
            answers = pipe.execute(raise_on_error=False)
    except redis.RedisError:
        log.warning("cannot read stream backlog for /metrics", exc_info=True)
        return
    for partition in partitions:
        length, pending = answers[2 * partition], answers[2 * partition + 1]
        if isinstance(length, int):
            metrics.STREAM_BACKLOG.labels(str(partition)).set(length)
        if isinstance(pending, dict):
            metrics.STREAM_PENDING.labels(str(partition)).set(int(pending.get("pending", 0)))
