"""The ingest API over real HTTP, real Redis streams and a real PostgreSQL catalogue: accepted
batches, uploads and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import json

import redis
import requests
from prometheus_client import REGISTRY
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, text

from ingest import drift, jobs
from ingest.worker import make_worker
from integration.ingest.api_support import (
    UNIT,
    Seeded,
    Serve,
    assert_error,
    envelopes,
    event,
    post,
    post_json,
    rejections,
    seeded,
    serve,
)
from models.settings import Settings

__all__ = ["seeded", "serve"]  # fixtures


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
