"""Health, readiness and metrics endpoints against real PostgreSQL and Redis."""

from __future__ import annotations

import redis
from flask import Flask
from sqlalchemy import Engine

from ingest import metrics, observability
from ingest.runtime import Services
from ingest.streams import stream_key
from models.settings import Settings


def _client(settings: Settings) -> tuple[Flask, Services]:
    server = Flask("observability-test")
    services = Services(settings)
    observability.init_app(server, services)
    return server, services


def test_healthz_answers_without_dependencies(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    server, services = _client(broken)
    response = server.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    services.close()


def test_readyz_is_ready_on_a_migrated_database(db: Engine, settings: Settings) -> None:
    server, services = _client(settings)
    response = server.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"] == {"postgresql": "ok", "redis": "ok"}
    services.close()


def test_readyz_names_the_dependency_that_is_down(db: Engine, settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    server, services = _client(broken)
    response = server.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["postgresql"] == "ok"
    assert checks["redis"].startswith("unreachable")
    services.close()


def test_metrics_expose_ingest_counters_and_live_backlog(
    settings: Settings, redis_client: redis.Redis
) -> None:
    metrics.RECORDS_ACCEPTED.labels("orders").inc(3)
    redis_client.xadd(stream_key(1), {b"e": b"x"})
    redis_client.xadd(stream_key(1), {b"e": b"y"})
    server, services = _client(settings)
    response = server.test_client().get("/metrics")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'northstar_ingest_records_accepted_total{source="orders"}' in body
    assert 'northstar_ingest_stream_backlog{partition="1"} 2.0' in body
    services.close()


def test_durability_warning_names_the_missing_append_only_file(redis_client: redis.Redis) -> None:
    aof = int(redis_client.info("persistence")["aof_enabled"])
    problem = observability.redis_durability_problem(redis_client)
    if aof:
        assert problem is None
    else:
        assert problem is not None
        assert "appendonly" in problem


def test_durability_warning_when_redis_is_unreachable() -> None:
    problem = observability.redis_durability_problem(redis.Redis(port=1))
    assert problem is not None
    assert "unreachable" in problem
