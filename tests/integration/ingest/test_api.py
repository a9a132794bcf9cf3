"""The ingest API over real HTTP, real Redis streams and a real PostgreSQL catalogue."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from prometheus_client import REGISTRY
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from ingest import api, drift, jobs
from ingest.runtime import Services
from ingest.sources_cache import bump_catalog_version
from ingest.streams import (
    ENVELOPE_FIELD,
    QUARANTINE_STREAM,
    REJECTIONS_FIELD,
    Envelope,
    Rejection,
    decode_envelope,
    decode_rejections,
    stream_key,
)
from ingest.worker import make_worker
from models.api_keys import create_key, revoke_key
from models.audit import Actor
from models.catalog import OrgUnitSpec, SourceSpec, upsert_org_unit, upsert_source
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import Classification, OrgLevel, RefreshMode
from models.settings import Settings
from models.sources import Source

ACTOR = Actor("tests")
UNIT = "acme-shop"
FIELDS = (
    FieldSpec(
        name="order_id", type=FieldType.STRING, role=FieldRole.EVENT_ID, pattern=r"^\S{1,64}$"
    ),
    FieldSpec(name="ts", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
    FieldSpec(
        name="org_unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT, reference="org_units"
    ),
    FieldSpec(name="amount", type=FieldType.FLOAT, role=FieldRole.MEASURE, min=0, max=1000),
    FieldSpec(name="items", type=FieldType.INT, role=FieldRole.MEASURE, min=1, max=100),
    FieldSpec(
        name="channel",
        type=FieldType.ENUM,
        role=FieldRole.DIMENSION,
        allowed=("web", "app", "store"),
    ),
    FieldSpec(
        name="email",
        type=FieldType.STRING,
        role=FieldRole.ATTRIBUTE,
        required=False,
        classification=Classification.PII,
        pattern=r"^[^@\s]+@[^@\s]+$",
    ),
)
PARTITIONS = 4
MAX_BYTES = 64 * 1024


def source_spec(key: str, **changes: Any) -> SourceSpec:
    values: dict[str, Any] = {
        "key": key,
        "name": key.title(),
        "owner_unit_key": "acme",
        "refresh_mode": RefreshMode.STREAMING,
        "freshness_sla_s": 300,
        "expected_volume_per_15m": 100,
        "retention_days": 30,
        "fields": FIELDS,
    }
    return SourceSpec(**(values | changes))


@dataclass
class Seeded:
    keys: dict[str, str]
    """A valid API key per source key."""


@pytest.fixture
def seeded(session: Session, redis_client: redis.Redis) -> Seeded:
    upsert_org_unit(session, OrgUnitSpec("acme", "Acme", OrgLevel.COMPANY), ACTOR)
    upsert_org_unit(session, OrgUnitSpec(UNIT, "Shop", OrgLevel.REGION, "acme"), ACTOR)
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    specs = [
        source_spec("shop"),
        source_spec("returns"),
        source_spec("partner", partner_agreement_ref="DPA-7", partner_agreement_expires_at=past),
        source_spec("dormant"),
    ]
    keys = {}
    for spec in specs:
        source = upsert_source(session, spec, ACTOR)
        keys[spec.key] = create_key(session, source, ACTOR, label="tests")
    session.scalars(select(Source).where(Source.key == "dormant")).one().active = False
    session.commit()
    return Seeded(keys)


Serve = Callable[..., str]


@pytest.fixture
def serve(settings: Settings) -> Iterator[Serve]:
    """Start the ingest API on a real HTTP server (a thread); returns its base URL."""
    started: list[tuple[Any, threading.Thread, Services]] = []

    def start(services: Services | None = None, **overrides: Any) -> str:
        values = {"ingest_partitions": PARTITIONS, "ingest_max_bytes": MAX_BYTES} | overrides
        services = services or Services(settings.model_copy(update=values))
        app = Flask("ingest-api-tests")
        api.init_app(app, services)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread, services))
        return f"http://127.0.0.1:{server.server_port}/api/v1"

    yield start
    for server, thread, services in started:
        server.shutdown()
        thread.join(timeout=10)
        services.close()


def event(n: int, **changes: Any) -> dict[str, Any]:
    record = {
        "order_id": f"o-{n}",
        "ts": f"2024-05-01T12:{n % 60:02d}:00Z",
        "org_unit": UNIT,
        "amount": 10.5 + n,
        "items": 1 + n % 5,
        "channel": "web",
    }
    return {k: v for k, v in (record | changes).items() if v is not ...}


def post(
    base: str, source: str, key: str | None, body: bytes | str, content_type: str
) -> requests.Response:
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return requests.post(f"{base}/sources/{source}/events", data=body, headers=headers, timeout=10)


def post_json(base: str, source: str, key: str | None, records: list[Any]) -> requests.Response:
    return post(base, source, key, json.dumps(records), "application/json")


def envelopes(client: redis.Redis) -> list[Envelope]:
    found = []
    for partition in range(PARTITIONS):
        for _id, fields in client.xrange(stream_key(partition)):
            found.append(decode_envelope(fields[ENVELOPE_FIELD]))
    return found


def rejections(client: redis.Redis) -> list[Rejection]:
    found = []
    for _id, fields in client.xrange(QUARANTINE_STREAM):
        found.extend(decode_rejections(fields[REJECTIONS_FIELD]))
    return found


def stream_lengths(client: redis.Redis) -> list[int]:
    keys = [stream_key(p) for p in range(PARTITIONS)] + [QUARANTINE_STREAM]
    return [int(client.xlen(k)) for k in keys]


def assert_error(response: requests.Response, status: int, code: str, words: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code, body
    assert words in body["message"], body


# --- accepted batches -----------------------------------------------------------------------


def test_a_good_batch_is_accepted_into_the_partition_streams(
    seeded: Seeded, serve: Serve, redis_client: redis.Redis
) -> None:
    base = serve()
    before = REGISTRY.get_sample_value(
        "northstar_ingest_records_accepted_total", {"source": "shop"}
    )
    records = [event(n) for n in range(50)]
    response = post_json(base, "shop", seeded.keys["shop"], records)

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"], body["errors"]) == (50, 0, [])
    stored = envelopes(redis_client)
    assert {e.batch_id for e in stored} == {body["batch_id"]}
    assert {e.contract_version for e in stored} == {1}
    by_id = {r.event_id: r for e in stored for r in e.records}
    assert sorted(by_id) == sorted(r["order_id"] for r in records)
    first = by_id["o-1"]
    assert first.ts_us == int(dt.datetime(2024, 5, 1, 12, 1, tzinfo=dt.UTC).timestamp()) * 10**6
    assert first.measures == {"amount": 11.5, "items": 2.0}
    assert first.dims == {"channel": "web"}
    after = REGISTRY.get_sample_value("northstar_ingest_records_accepted_total", {"source": "shop"})
    assert (after or 0) - (before or 0) == 50


BAD_LINES = [
    (json.dumps(event(1, amount="12")), "amount", "type"),
    (json.dumps(event(2, items=...)), "items", "required"),
    (json.dumps(event(3, amount=5000)), "amount", "max"),
    (json.dumps(event(4, order_id="has space")), "order_id", "pattern"),
    (json.dumps(event(5, channel="fax")), "channel", "enum"),
    ('{"order_id": "o-6", "ts": ', None, "json"),
    ("[1, 2, 3]", None, "not_object"),
    (json.dumps(event(8, ts="2024-05-01T12:00:00")), "ts", "type"),
]


def test_each_bad_record_is_answered_and_quarantined_with_its_reason(
    seeded: Seeded, serve: Serve, redis_client: redis.Redis
) -> None:
    base = serve()
    lines = [json.dumps(event(0))] + [line for line, _f, _r in BAD_LINES] + [json.dumps(event(9))]
    response = post(
        base, "shop", seeded.keys["shop"], "\n".join(lines) + "\n", "application/x-ndjson"
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, len(BAD_LINES))
    answered = [(e["index"], e["field"], e["rule"]) for e in body["errors"]]
    expected = [(i, f, r) for i, (_line, f, r) in enumerate(BAD_LINES, start=1)]
    assert answered == expected
    assert all(e["reason"] for e in body["errors"])

    quarantined = sorted(rejections(redis_client), key=lambda r: r.index)
    assert [(q.index, q.field, q.rule) for q in quarantined] == expected
    assert {(q.batch_id, q.source_key, q.contract_version) for q in quarantined} == {
        (body["batch_id"], "shop", 1)
    }
    assert [q.reason for q in quarantined] == [e["reason"] for e in body["errors"]]
    broken = next(q for q in quarantined if q.rule == "json")
    assert (broken.raw, broken.payload) == ('{"order_id": "o-6", "ts":', None)
    assert next(q for q in quarantined if q.rule == "enum").payload["channel"] == "fax"
    assert sorted(r.event_id for e in envelopes(redis_client) for r in e.records) == ["o-0", "o-9"]


def test_drained_batches_land_once_and_rejections_reach_the_quarantine_table(
    seeded: Seeded, serve: Serve, redis_client: redis.Redis, db: Engine
) -> None:
    """The whole path: API → streams → a burst RQ worker → PostgreSQL; a retry adds nothing."""
    base = serve()
    lines = [json.dumps(event(n)) for n in range(5)] + [BAD_LINES[0][0], BAD_LINES[5][0]]
    body = "\n".join(lines)
    for _attempt in range(2):  # the producer retries the same request
        response = post(base, "shop", seeded.keys["shop"], body, "application/x-ndjson")
        assert response.status_code == 202, response.text
        queue = Queue(jobs.INGEST_QUEUE, connection=redis_client, serializer=JSONSerializer)
        make_worker([queue.name], redis_client).work(burst=True, max_jobs=20)

    with db.connect() as connection:
        events = connection.execute(text("SELECT event_id FROM events ORDER BY event_id")).all()
        quarantine = connection.execute(
            text("SELECT record_index, rule, reason FROM quarantine ORDER BY received_at, id")
        ).all()
    assert [e.event_id for e in events] == [f"o-{n}" for n in range(5)]
    # Each request is its own batch: the retried bad records are quarantined per request.
    assert [(q.record_index, q.rule) for q in quarantine] == [(5, "type"), (6, "json")] * 2
    assert "'amount' must be a number" in quarantine[0].reason


def test_unknown_fields_are_accepted_and_counted_as_drift(
    seeded: Seeded, serve: Serve, redis_client: redis.Redis, settings: Settings
) -> None:
    base = serve()
    records = [event(1, coupon="X"), event(2, coupon="Y", referrer="ad"), event(3, amount="1")]
    response = post_json(base, "shop", seeded.keys["shop"], records)
    assert (response.json()["accepted"], response.json()["rejected"]) == (2, 1)

    start = drift.window_start(dt.datetime.now(dt.UTC).timestamp(), settings.drift_window_s)
    (counts,) = drift.read_window(redis_client, start)
    assert (counts.records, dict(counts.unknown), dict(counts.mismatch)) == (
        3,
        {"coupon": 2, "referrer": 1},
        {"amount": 1},
    )


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


# --- uploads and documentation --------------------------------------------------------------

CSV_FILE = (
    "order_id,ts,org_unit,amount,items,channel,email\r\n"
    f"c-1,2024-05-01T10:00:00Z,{UNIT},12.5,3,store,\r\n"
    f"c-2,2024-05-01T10:05:00+02:00,{UNIT},7,1,web,a@example.com\r\n"
    f"c-3,2024-05-01T10:10:00Z,{UNIT},lots,1,web,\r\n"
    f"c-4,2024-05-01T10:15:00Z,{UNIT},1\r\n"
)


def test_a_csv_upload_is_coerced_by_the_contract(
    seeded: Seeded, serve: Serve, redis_client: redis.Redis
) -> None:
    response = requests.post(
        f"{serve()}/sources/shop/uploads",
        data=CSV_FILE.encode(),
        headers={"Authorization": f"Bearer {seeded.keys['shop']}", "Content-Type": "text/csv"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [(e["index"], e["field"], e["rule"]) for e in body["errors"]] == [
        (2, "amount", "type"),
        (3, None, "csv"),
    ]
    by_id = {r.event_id: r for e in envelopes(redis_client) for r in e.records}
    assert by_id["c-1"].measures == {"amount": 12.5, "items": 3.0}
    assert by_id["c-1"].attrs == {}
    assert by_id["c-2"].attrs == {"email": "a@example.com"}
    assert (
        by_id["c-2"].ts_us == int(dt.datetime(2024, 5, 1, 8, 5, tzinfo=dt.UTC).timestamp()) * 10**6
    )
    assert {q.rule for q in rejections(redis_client)} == {"type", "csv"}


def test_a_multipart_file_upload_is_accepted(
    seeded: Seeded, serve: Serve, redis_client: redis.Redis
) -> None:
    base = serve()
    headers = {"Authorization": f"Bearer {seeded.keys['shop']}"}
    files = {"file": ("orders.json", json.dumps([event(1), event(2)]), "application/octet-stream")}
    response = requests.post(
        f"{base}/sources/shop/uploads", files=files, headers=headers, timeout=10
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    wrong = requests.post(
        f"{base}/sources/shop/uploads",
        files={"other": ("x.csv", "a\n1\n")},
        headers=headers,
        timeout=10,
    )
    assert_error(wrong, 400, "bad_request", "'file'")


def test_the_openapi_document_is_public_and_describes_both_endpoints(serve: Serve) -> None:
    response = requests.get(f"{serve()}/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in ("/sources/{source_key}/events", "/sources/{source_key}/uploads"):
        answers = paths[path]["post"]["responses"]
        assert {"202", "400", "401", "403", "404", "413", "415", "429", "503"} <= set(answers)
        assert "Retry-After" in answers["429"]["headers"]
    assert document["components"]["securitySchemes"]["sourceKey"]["scheme"] == "bearer"


def test_the_web_app_serves_the_ingest_api(seeded: Seeded, settings: Settings) -> None:
    from dashboard.app import create_app

    client = create_app(settings).test_client()
    response = client.post(
        "/api/v1/sources/shop/events",
        json=[event(1)],
        headers={"Authorization": f"Bearer {seeded.keys['shop']}"},
    )
    assert response.status_code == 202, response.text
    assert client.get("/api/v1/openapi.json").status_code == 200
