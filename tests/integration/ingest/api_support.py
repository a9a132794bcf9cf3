"""The ingest API's tests: a catalogue of four sources with a key each, the API on a real HTTP
server (a thread), records and requests, and readers of the Redis streams."""

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
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from ingest import api
from ingest.runtime import Services
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
from models.api_keys import create_key
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
