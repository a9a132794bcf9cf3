"""Data of the ingest benchmark: the demo catalogue, API keys, request bodies, COPY rows.

Bodies are generated once, before any timer, by the live simulator's event maker (the demo
sources' measures, dimensions and attributes, units weighted by their volume). Each is a
template: at send time two ``bytes.replace`` calls put in a token unique to the request (so
every event id is new) and the current UTC minute (so the events are live), which costs the
client about 0.2 ms per 1,000-event request.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ingest.demo.catalog import COMPANY_KEY, SOURCES
from ingest.demo.seed import SEED_ACTOR, seed_demo
from ingest.simulator import EventMaker
from ingest.simulator_run import provision_keys
from models.catalog import (
    OrgUnitSpec,
    count_metric_ids,
    org_unit_ids_by_key,
    source_ids_by_key,
    upsert_org_unit,
)
from models.contracts import FieldRole
from models.enums import OrgLevel
from models.org import OrgUnit
from models.settings import Settings
from models.writes import EventRow

TOKEN = b"~TOKEN~"
MINUTE = b"~MINUTE~"
PROBE_UNIT = "bench-probe"
"""A business unit that only the freshness probes post to: its event count is the signal."""
PROBE_SOURCE = "orders"
_SPECS = {s.key: s for s in SOURCES}


@dataclass(frozen=True)
class World:
    """What the bench needs of the catalogue: keys, ids and the probe's coordinates."""

    keys: dict[str, str]
    source_ids: dict[str, int]
    unit_ids: dict[str, int]
    probe_unit_id: int
    probe_unit_path: str
    probe_metric_id: int


def build_world(engine: Engine, client: redis.Redis, settings: Settings) -> World:
    """Seed the demo catalogue, add the probe unit, make one API key per streaming source."""
    seed_demo(engine, settings)
    with Session(engine) as session, session.begin():
        upsert_org_unit(
            session,
            OrgUnitSpec(PROBE_UNIT, "Benchmark probe", OrgLevel.BUSINESS_UNIT, COMPANY_KEY),
            SEED_ACTOR,
        )
    with Session(engine) as session:
        unit = session.scalars(select(OrgUnit).where(OrgUnit.key == PROBE_UNIT)).one()
        world_units = org_unit_ids_by_key(session)
        sources = source_ids_by_key(session)
        metric = count_metric_ids(session)[PROBE_SOURCE]
        path, unit_id = str(unit.path), unit.id
    keys = provision_keys(engine, client, streaming_sources())
    return World(keys, sources, world_units, unit_id, path, metric)


def streaming_sources() -> list[str]:
    maker = EventMaker(1.0, seed=1)
    return [p.key for p in maker.streaming]


@dataclass(frozen=True)
class Template:
    """One request body of ``events`` events of ``source``, with placeholders."""

    source: str
    body: bytes
    records: list[dict[str, Any]]

    def render(self, token: int, minute: bytes) -> bytes:
        return self.body.replace(TOKEN, b"%010d" % token).replace(MINUTE, minute)


def minute_now() -> bytes:
    """The current UTC minute as the bodies' timestamps start: ``2024-05-01T12:34``."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M").encode()


def make_templates(count: int, events: int, seed: int = 42) -> list[Template]:
    """``count`` bodies of ``events`` demo-like events; sources in proportion to their volume."""
    maker = EventMaker(1_000.0, seed=seed, run_id="bench")
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    profiles = maker.streaming
    weights = [p.per_day for p in profiles]
    templates = []
    for n in range(count):
        profile = rng.choices(profiles, weights)[0]
        pool: list[dict[str, Any]] = []
        while len(pool) < events:
            pool += maker.records(profile, now, 2.0)
        rng.shuffle(pool)
        records = []
        id_field = next(f.name for f in _SPECS[profile.key].fields if f.role is FieldRole.EVENT_ID)
        for i, record in enumerate(pool[:events]):
            record[id_field] = f"{profile.id_prefix}-b{n:03d}-~TOKEN~-{i:04d}"
            record["ts"] = f"~MINUTE~:{rng.randrange(60):02d}.{rng.randrange(10**6):06d}Z"
            records.append(record)
        body = json.dumps(records, separators=(",", ":")).encode()
        templates.append(Template(profile.key, body, records))
    return templates


def copy_rows_of(templates: list[Template], world: World, token: int) -> list[EventRow]:
    """The templates' events as the workers store them (the COPY baseline's rows)."""
    rows = []
    minute = minute_now().decode()
    for template in templates:
        spec = _SPECS[template.source]
        source_id = world.source_ids[template.source]
        roles = {f.name: f.role for f in spec.fields}
        for record in template.records:
            text = json.dumps(record).replace("~TOKEN~", f"{token:010d}")
            text = text.replace("~MINUTE~", minute)
            values = json.loads(text)
            by_role: dict[FieldRole, dict[str, Any]] = {r: {} for r in FieldRole}
            for name, value in values.items():
                by_role[roles[name]][name] = value
            rows.append(
                EventRow(
                    ts=dt.datetime.fromisoformat(values["ts"]),
                    source_id=source_id,
                    event_id=next(iter(by_role[FieldRole.EVENT_ID].values())),
                    org_unit_id=world.unit_ids[values["org_unit"]],
                    measures={k: float(v) for k, v in by_role[FieldRole.MEASURE].items()},
                    dims=by_role[FieldRole.DIMENSION],
                    attrs=by_role[FieldRole.ATTRIBUTE],
                )
            )
    return rows


def probe_body(sequence: int, run: str) -> bytes:
    """One order at the probe unit, stamped now."""
    stamp = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    record = {
        "order_id": f"probe-{run}-{sequence:06d}",
        "ts": stamp,
        "org_unit": PROBE_UNIT,
        "amount": 10.0,
        "items": 1,
        "channel": "web",
        "payment_method": "card",
        "product_category": "home",
    }
    return json.dumps([record]).encode()
