"""Poison records at the ingest edge and in the drain: whatever cannot be stored is rejected at
the edge with a reason, or ends in quarantine within the delivery limit; other producers keep
getting 202. Real HTTP handling (Flask's test client), real Redis streams, real burst workers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest import api, jobs, pipeline, streams
from ingest.runtime import Services
from integration.drain_support import run_burst_worker, services, ts_us
from models.api_keys import create_key
from models.audit import Actor
from models.catalog import OrgUnitSpec, SourceSpec, upsert_org_unit, upsert_source
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import OrgLevel, RefreshMode

__all__ = ["services"]  # the fixture, used by name

ACTOR = Actor("tests")
FIELDS = (
    FieldSpec(name="id", type=FieldType.STRING, role=FieldRole.EVENT_ID),
    FieldSpec(name="at", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
    FieldSpec(name="unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT),
    FieldSpec(name="clicks", type=FieldType.INT, role=FieldRole.MEASURE),
    FieldSpec(name="amount", type=FieldType.FLOAT, role=FieldRole.MEASURE, required=False),
    FieldSpec(name="page", type=FieldType.STRING, role=FieldRole.DIMENSION, required=False),
    FieldSpec(
        name="email",
        type=FieldType.STRING,
        role=FieldRole.ATTRIBUTE,
        required=False,
        pattern=r"^(a|a)*@x$",  # exponential under a backtracking engine
    ),
)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def ok(n: int, **changes: Any) -> dict[str, Any]:
    at = (NOW - dt.timedelta(minutes=n)).isoformat()
    return {"id": f"e{n}", "at": at, "unit": "hq", "clicks": n} | changes


@pytest.fixture
def client(services: Services, db: Engine) -> tuple[FlaskClient, dict[str, str]]:
    """The ingest API on the worker's services, and a key for each of two sources."""
    keys = {}
    with Session(db) as session, session.begin():
        upsert_org_unit(session, OrgUnitSpec("hq", "HQ", OrgLevel.COMPANY), ACTOR)
        for name in ("web", "other"):
            spec = SourceSpec(
                name, name.title(), "hq", RefreshMode.STREAMING, 300, None, 30, FIELDS
            )
            keys[name] = create_key(session, upsert_source(session, spec, ACTOR), ACTOR)
    app = Flask("ingest-edge-tests")
    api.init_app(app, services)
    return app.test_client(), keys


def post(
    client: FlaskClient,
    key: str,
    body: bytes,
    kind: str = "application/x-ndjson",
    source: str = "web",
) -> Any:
    return client.post(
        f"/api/v1/sources/{source}/events",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": kind},
    )


def ndjson(*lines: str | bytes) -> bytes:
    return b"\n".join(line.encode() if isinstance(line, str) else line for line in lines)


def stream_state(services: Services) -> tuple[list[int], list[int]]:
    """(XLEN, pending) of every partition and of the quarantine stream."""
    keys = [streams.stream_key(p) for p in range(services.settings.ingest_partitions)]
    keys.append(streams.QUARANTINE_STREAM)
    pending = streams.pending_counts(services.redis, keys)
    return [int(services.redis.xlen(k)) for k in keys], [pending[k] for k in keys]


def partitions(db: Engine) -> list[str]:
    with db.connect() as connection:
        names = connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('events', 'rollup_1m')"
            )
        ).scalars()
        return sorted(names)


def quarantine_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(
            text(
                "SELECT record_index, rule, reason, field, payload, raw FROM quarantine "
                "ORDER BY batch_id, record_index"
            )
        )
        return [dict(row._mapping) for row in result]


def deliver_without_processing(services: Services, partition: int, times: int) -> None:
    """What a worker dying mid-batch leaves: deliveries that were never acknowledged."""
    key = streams.stream_key(partition)
    streams.ensure_group(services.redis, key)
    streams.read_new(services.redis, key, "dead", count=100, block_ms=None)
    for _ in range(times - 1):
        time.sleep(0.005)
        streams.claim_stale(services.redis, key, "dead", min_idle_ms=1, count=100)


# --- finding 1: records that can neither be written nor quarantined ------------------------

POISON_LINES = [
    (json.dumps(ok(1, at="9999-12-31T12:00:00Z")), "at", "time_range"),
    (json.dumps(ok(2, at="0001-01-01T00:30:00+01:00")), "at", "time_range"),  # year 0 in UTC
    (json.dumps(ok(3, at="1900-06-01T00:00:00Z")), "at", "time_range"),
    (json.dumps(ok(4, at="2999-01-01T00:00:00Z")), "at", "time_range"),
    (json.dumps(ok(5, page="a\u0000b")), "page", "text"),
    (json.dumps(ok(6) | {"n\u0000te": 1}), None, "text"),  # NUL in a key (outside the contract)
    (json.dumps(ok(7, unit="h\u0000q")), "unit", "text"),
    (json.dumps(ok(8, clicks=10**200)), "clicks", "range"),  # integer beyond int64 and floats
    (json.dumps(ok(9, amount=1e200)), "amount", "range"),  # its square overflows float8
    (json.dumps(ok(10, extra={"deep": [10**30]})), "extra", "range"),  # a rejected huge int
    ('{"id": "e11", "at": "' + NOW.isoformat() + '", "bad": "\\ud800"}', None, "json"),
    (json.dumps(ok(12, amount=1e308)).replace("1e+308", "1e999"), None, "json"),  # infinity
    (json.dumps(ok(13, clicks="NaN")), "clicks", "type"),
]


def test_poison_records_are_rejected_at_the_edge_and_reach_quarantine(
    services: Services, client: tuple[FlaskClient, dict[str, str]], db: Engine
) -> None:
    api_client, keys = client
    lines = [json.dumps(ok(0))] + [line for line, _f, _r in POISON_LINES] + [json.dumps(ok(99))]
    response = post(api_client, keys["web"], ndjson(*lines))

    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.json
    assert (body["accepted"], body["rejected"]) == (2, len(POISON_LINES))
    expected = [(i, f, r) for i, (_line, f, r) in enumerate(POISON_LINES, start=1)]
    assert [(e["index"], e["field"], e["rule"]) for e in body["errors"]] == expected
    reasons = {e["index"]: e["reason"] for e in body["errors"]}
    assert "before 2000-01-01" in reasons[1 + 2]
    assert "in the future" in reasons[1]
    assert "U+0000" in reasons[5]
    assert "U+0000" in reasons[6]

    run_burst_worker(services)
    assert stream_state(services) == ([0] * 5, [0] * 5)
    rows = {r["record_index"]: r for r in quarantine_rows(db)}
    assert sorted((i, r["field"], r["rule"]) for i, r in rows.items()) == expected
    assert "\\u0000" in rows[5]["raw"]  # kept as escaped text, not as jsonb
    assert rows[1]["payload"]["at"] == "9999-12-31T12:00:00Z"
    with db.connect() as connection:
        stored = connection.execute(text("SELECT event_id FROM events ORDER BY 1")).scalars()
        assert list(stored) == ["e0", "e99"]
    assert not [p for p in partitions(db) if p[-8:-4] in ("0001", "1900", "2999", "9999")]

    again = post(api_client, keys["other"], ndjson(json.dumps(ok(1))), source="other")
    assert again.status_code == 202


def test_records_published_before_the_edge_checked_them_end_in_quarantine(
    services: Services, client: tuple[FlaskClient, dict[str, str]], db: Engine
) -> None:
    """What old web processes (or a replay) published: the worker quarantines the records it
    cannot write (out of the time window, text PostgreSQL cannot hold), stores their siblings,
    and never makes a partition for them."""
    far = ts_us(dt.datetime(9999, 12, 31, 12, tzinfo=dt.UTC))
    now = ts_us(NOW - dt.timedelta(minutes=3))
    records = [
        streams.StreamRecord(0, "good-1", now, "hq", {"clicks": 1.0}, {}, {}),
        streams.StreamRecord(1, "far", far, "hq", {"clicks": 1.0}, {}, {}),
        streams.StreamRecord(2, "year-0", -62135596800 * 10**6 - 1, "hq", {"clicks": 1.0}, {}, {}),
        streams.StreamRecord(3, "huge", now, "hq", {"clicks": 1e200}, {}, {}),
        streams.StreamRecord(4, "nul", now, "hq", {"clicks": 1.0}, {"page": "a\x00b"}, {}),
        streams.StreamRecord(5, "good-2", now, "hq", {"clicks": 2.0}, {}, {}),
    ]
    batch = str(uuid.uuid4())
    envelope = streams.Envelope(batch, 1, "web", 1, time.time(), records)
    bad_rejection = streams.Rejection(batch, 1, "web", 1, 6, "a\x00", "type", "r\x00", {"k\x00": 1})
    streams.publish(services.redis, {0: envelope}, [bad_rejection], max_backlog=100)
    jobs.trigger_drain(services, [0], rejections=True)

    run_burst_worker(services)

    assert stream_state(services) == ([0] * 5, [0] * 5)
    rows = {r["record_index"]: r for r in quarantine_rows(db)}
    assert {i: r["rule"] for i, r in rows.items()} == {
        1: "time_range",
        2: "time_range",
        4: "unwritable",
        6: "type",
    }
    assert "\\u0000" in rows[4]["reason"] or "0x00" in rows[4]["reason"], rows[4]["reason"]
    assert rows[6]["payload"] is None
    assert "k\\u0000" in rows[6]["raw"]
    with db.connect() as connection:
        stored = connection.execute(text("SELECT event_id FROM events ORDER BY 1")).scalars()
        # 1e200 (refused at the edge) is writable: its square is stored as +Infinity.
        assert list(stored) == ["good-1", "good-2", "huge"]
    assert not [p for p in partitions(db) if p[-8:-4] in ("0000", "0001", "9999")]


def test_the_poison_path_prepares_no_storage_and_cannot_fail(
    services: Services, client: tuple[FlaskClient, dict[str, str]], db: Engine
) -> None:
    """An entry past the delivery limit is quarantined whole, even with a day partition that
    cannot exist (after 9999-12-31) and text jsonb cannot hold; so is a rejections entry."""
    far = ts_us(dt.datetime(9999, 12, 31, 12, tzinfo=dt.UTC))
    records = [streams.StreamRecord(0, "far\x00", far, "hq", {"clicks": 1e200}, {"p": "\x00"}, {})]
    envelope = streams.Envelope(str(uuid.uuid4()), 1, "web", 1, time.time(), records)
    partition = streams.partition_of(1, "hq", services.settings.ingest_partitions)
    streams.publish(services.redis, {partition: envelope}, [], max_backlog=100)
    limit = services.settings.ingest_max_deliveries
    deliver_without_processing(services, partition, limit)

    time.sleep(0.005)
    report = pipeline.drain_partition(services, partition, "w", 5.0)

    assert (report.poisoned, report.failed) == (1, 0)
    (row,) = quarantine_rows(db)
    assert row["rule"] == "poison"
    assert f"limit {limit}" in row["reason"]
    assert row["payload"] is None
    assert "\\u0000" in row["raw"]
    assert stream_state(services) == ([0] * 5, [0] * 5)
    assert not [p for p in partitions(db) if "9999" in p]


def test_the_sweep_reports_entries_pending_past_the_delivery_limit(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    envelope = streams.Envelope("b", 1, "web", 1, time.time(), [])
    streams.publish(services.redis, {2: envelope}, [], max_backlog=100)
    limit = services.settings.ingest_max_deliveries
    deliver_without_processing(services, 2, limit + 1)

    with caplog.at_level(logging.ERROR, logger="ingest.jobs"):
        counts = jobs.report_overdue(services)

    key = streams.stream_key(2)
    assert counts[key] == 1
    assert counts[streams.QUARANTINE_STREAM] == 0
    gauge = REGISTRY.get_sample_value("northstar_ingest_stream_overdue", {"stream": key})
    assert gauge == 1
    assert "pending past the delivery limit" in caplog.text


# --- finding 4: records per request -----------------------------------------------------------


def test_more_records_than_the_cap_get_413_and_nothing_is_kept(
    services: Services, client: tuple[FlaskClient, dict[str, str]]
) -> None:
    app = Flask("capped")
    small = Services(services.settings.model_copy(update={"ingest_max_records": 50}))
    api.init_app(app, small)
    capped = app.test_client()
    key = client[1]["web"]
    try:
        response = post(capped, key, b"{}\n" * 51)
        assert response.status_code == 413
        assert response.json["error"] == "payload_too_large"
        assert "50 records" in response.json["message"]
        array = post(capped, key, json.dumps([{}] * 51).encode(), "application/json")
        assert array.status_code == 413
        assert stream_state(services)[0] == [0] * 5
        assert post(capped, key, b"{}\n" * 50).status_code == 202
    finally:
        small.close()


def test_rejected_records_count_against_the_keys_hourly_budget(
    services: Services, client: tuple[FlaskClient, dict[str, str]], db: Engine
) -> None:
    app = Flask("budget")
    small = Services(services.settings.model_copy(update={"ingest_max_rejected_per_hour": 5}))
    api.init_app(app, small)
    budgeted = app.test_client()
    keys = client[1]
    try:
        assert post(budgeted, keys["web"], b"{}\n" * 3).status_code == 202
        over = post(budgeted, keys["web"], b"{}\n" * 3 + json.dumps(ok(1)).encode())
        assert over.status_code == 429
        assert over.json["error"] == "quarantine_budget"
        assert "at most 5 records rejected per hour" in over.json["message"]
        assert 0 < int(over.headers["Retry-After"]) <= 3600
        assert post(budgeted, keys["web"], ndjson(json.dumps(ok(2)))).status_code == 202
        assert post(budgeted, keys["web"], b"{}\n" * 2).status_code == 202  # 5 in all
        other = post(budgeted, keys["other"], b"{}\n" * 5, source="other")
        assert other.status_code == 202  # a budget per key
    finally:
        small.close()
    run_burst_worker(services)
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM quarantine")).scalar_one() == 10


# --- finding 7: bodies that answered 500 ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'[{"id": "\xff\xfe"}]',  # invalid UTF-8 inside a JSON string
        b"[" + b"[" * 5000 + b"]" * 5000 + b"]",  # 5,000 levels deep
        b'[{"clicks": 1e999}]',
    ],
)
def test_a_json_body_that_cannot_be_read_gets_400(
    services: Services, client: tuple[FlaskClient, dict[str, str]], body: bytes
) -> None:
    response = post(client[0], client[1]["web"], body, "application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"] == "bad_request"


def test_unreadable_ndjson_lines_are_rejected_one_by_one(
    services: Services, client: tuple[FlaskClient, dict[str, str]], db: Engine
) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    body = ndjson(json.dumps(ok(0)), b'{"id": "\xff\x00"}', deep, json.dumps(ok(1, x=[[[[[[]]]]]])))
    response = post(client[0], client[1]["web"], body)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert [(e["index"], e["rule"]) for e in response.json["errors"]] == [(1, "json"), (2, "json")]
    run_burst_worker(services)
    assert stream_state(services) == ([0] * 5, [0] * 5)
    rows = quarantine_rows(db)
    assert [(r["record_index"], r["rule"]) for r in rows] == [(1, "json"), (2, "json")]


def test_a_backtracking_pattern_runs_in_linear_time(
    services: Services, client: tuple[FlaskClient, dict[str, str]]
) -> None:
    started = time.monotonic()
    response = post(client[0], client[1]["web"], ndjson(json.dumps(ok(0, email="a" * 28))))
    assert time.monotonic() - started < 5
    assert [e["rule"] for e in response.json["errors"]] == ["pattern"]
    assert (
        post(client[0], client[1]["web"], ndjson(json.dumps(ok(1, email="aa@x")))).json["accepted"]
        == 1
    )
