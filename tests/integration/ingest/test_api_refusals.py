"""The ingest API over real HTTP, real Redis streams and a real PostgreSQL catalogue: the
requests it refuses, each with its status and reason, keeping nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import redis
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.runtime import Services
from ingest.sources_cache import bump_catalog_version
from ingest.streams import stream_key
from integration.ingest.api_support import (
    ACTOR,
    PARTITIONS,
    Seeded,
    Serve,
    assert_error,
    event,
    post,
    post_json,
    seeded,
    serve,
    stream_lengths,
)
from models.api_keys import create_key, revoke_key
from models.settings import Settings
from models.sources import Source

__all__ = ["seeded", "serve"]  # fixtures


# --- refused requests -----------------------------------------------------------------------


def test_an_oversized_body_gets_413_and_nothing_is_kept(
    seeded: Seeded, serve: Serve, redis_client: redis.Redis
) -> None:
    base = serve(ingest_max_bytes=2_000)
    body = json.dumps([event(n) for n in range(40)])
    assert len(body) > 2_000
    assert_error(
        post(base, "shop", seeded.keys["shop"], body, "application/json"),
        413,
        "payload_too_large",
        "2000 bytes",
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the read itself must be bounded
        yield body.encode()[:1_500]
        yield body.encode()[1_500:]

    chunked = requests.post(
        f"{base}/sources/shop/events",
        data=chunks(),
        headers={
            "Authorization": f"Bearer {seeded.keys['shop']}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert_error(chunked, 413, "payload_too_large")
    assert stream_lengths(redis_client) == [0] * (PARTITIONS + 1)


@pytest.mark.parametrize("content_type", ["text/plain", "text/csv", "application/xml", ""])
def test_a_wrong_content_type_gets_415(seeded: Seeded, serve: Serve, content_type: str) -> None:
    response = post(serve(), "shop", seeded.keys["shop"], json.dumps([event(1)]), content_type)
    assert_error(response, 415, "unsupported_media_type", "application/x-ndjson")


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (json.dumps(event(1)), "application/json", "JSON array"),
        ("[{broken", "application/json", "not valid JSON"),
        ("<html>\n<body>\n", "application/x-ndjson", "no line is valid JSON"),
        ("\n\n", "application/x-ndjson", "no records"),
    ],
)
def test_a_body_that_is_not_a_batch_at_all_gets_400(
    seeded: Seeded,
    serve: Serve,
    redis_client: redis.Redis,
    body: str,
    content_type: str,
    words: str,
) -> None:
    assert_error(
        post(serve(), "shop", seeded.keys["shop"], body, content_type), 400, "bad_request", words
    )
    assert stream_lengths(redis_client) == [0] * (PARTITIONS + 1)


def test_missing_wrong_revoked_and_expired_keys_get_401(
    seeded: Seeded, serve: Serve, session: Session, redis_client: redis.Redis
) -> None:
    base = serve()
    records = [event(1)]
    missing = post_json(base, "shop", None, records)
    assert_error(missing, 401, "unauthorized", "Bearer")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(post_json(base, "shop", "ns_00000000_wrong", records), 401, "unauthorized")
    # A bad key learns nothing about which sources exist.
    assert_error(post_json(base, "no-such-source", "ns_0_wrong", records), 401, "unauthorized")

    key = seeded.keys["shop"]
    assert post_json(base, "shop", key, records).status_code == 202  # the cache is warm now
    revoke_key(session, key.split("_")[1], ACTOR)
    session.commit()
    bump_catalog_version(redis_client)
    assert_error(post_json(base, "shop", key, records), 401, "unauthorized", "revoked")

    source = session.scalars(select(Source).where(Source.key == "shop")).one()
    soon = create_key(
        session, source, ACTOR, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    session.commit()
    bump_catalog_version(redis_client)
    assert_error(post_json(base, "shop", soon, records), 401, "unauthorized", "expired")


def test_a_key_may_post_only_to_its_own_active_source(seeded: Seeded, serve: Serve) -> None:
    base = serve()
    records = [event(1)]
    assert_error(
        post_json(base, "returns", seeded.keys["shop"], records),
        403,
        "forbidden",
        "does not belong",
    )
    assert_error(post_json(base, "no-such-source", seeded.keys["shop"], records), 404, "not_found")
    assert_error(
        post_json(base, "dormant", seeded.keys["dormant"], records), 403, "forbidden", "inactive"
    )


def test_an_expired_partner_agreement_stops_ingestion(seeded: Seeded, serve: Serve) -> None:
    response = post_json(serve(), "partner", seeded.keys["partner"], [event(1)])
    assert_error(response, 403, "partner_agreement_expired", "DPA-7")
    assert "expired" in response.json()["message"]


def test_a_full_backlog_gets_429_with_retry_after_and_keeps_nothing(
    seeded: Seeded, serve: Serve, redis_client: redis.Redis
) -> None:
    base = serve(ingest_max_backlog=1)
    records = [event(1), event(2, amount="bad")]
    assert post_json(base, "shop", seeded.keys["shop"], records).status_code == 202
    before = stream_lengths(redis_client)

    response = post_json(base, "shop", seeded.keys["shop"], records)
    assert_error(response, 429, "backlog_full", "nothing was accepted")
    assert int(response.headers["Retry-After"]) > 0
    assert stream_lengths(redis_client) == before


def test_redis_unavailable_gets_503_with_retry_after(
    seeded: Seeded, serve: Serve, settings: Settings, redis_client: redis.Redis
) -> None:
    services = Services(settings.model_copy(update={"ingest_partitions": PARTITIONS}))
    base = serve(services)
    assert post_json(base, "shop", seeded.keys["shop"], [event(1)]).status_code == 202

    # Redis refusing the write itself: the partition's stream key holds the wrong type.
    redis_client.flushdb()
    for partition in range(PARTITIONS):
        redis_client.set(stream_key(partition), b"not a stream")
    refused = post_json(base, "shop", seeded.keys["shop"], [event(1)])
    assert_error(refused, 503, "unavailable", "nothing was accepted")
    assert int(refused.headers["Retry-After"]) > 0

    services.redis = redis.Redis(port=1, socket_connect_timeout=1)  # nothing listens there
    away = post_json(base, "shop", seeded.keys["shop"], [event(1)])
    assert_error(away, 503, "unavailable", "Redis")
    assert int(away.headers["Retry-After"]) > 0


def test_other_methods_and_paths_answer_in_json(seeded: Seeded, serve: Serve) -> None:
    base = serve()
    got = requests.get(f"{base}/sources/shop/events", timeout=10)
    assert_error(got, 405, "method_not_allowed")
    assert got.headers["Allow"] == "POST"
    assert_error(requests.get(f"{base}/nothing/here", timeout=10), 404, "not_found")
