"""The quarantine browser's world: units acme > west, east; orders (owned by acme) and returns
(owned by east) with an API key each; stewards, an executive and roles holding parts of
quarantine:manage; and readers of what the database holds.

The records are quarantined by the real path: posted to the ingest API with a source key, then
drained by an rq burst worker (edge rejections, and a record whose org unit is unknown).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from dashboard.app import create_app
from ingest.runtime import Services
from ingest.sources_cache import bump_catalog_version
from integration.auth_support import ACTOR, PASSWORD, FakeClock, sign_in
from integration.drain_support import TEST_SETTINGS, run_burst_worker
from models.accounts import RoleSpec, UserSpec, create_user, upsert_role
from models.api_keys import create_key
from models.catalog import OrgUnitSpec, SourceSpec, ensure_contract, upsert_org_unit, upsert_source
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import Classification, OrgLevel, RefreshMode
from models.logs import AuditLog
from models.permissions import Permission
from models.settings import Settings
from models.sources import Source

UPDATE = "/_dash-update-component"
PII = "alice@pii-quarantine.example"
PII_IN_RAW = "bob@pii-quarantine.example"
MARGIN = 4242.4242
EAST_MARKER = "eastonly"
NOW = dt.datetime.now(dt.UTC)
EVENT_TS = (NOW - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

ROLES = (
    RoleSpec("executive", "Executive", frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW})),
    RoleSpec(
        "steward",
        "Steward",
        frozenset(
            {
                Permission.KPI_VIEW,
                Permission.EVENT_VIEW,
                Permission.PII_VIEW,
                Permission.INCIDENT_MANAGE,
                Permission.QUARANTINE_MANAGE,
            }
        ),
    ),
    RoleSpec(
        "clerk",
        "Quarantine clerk",
        frozenset({Permission.KPI_VIEW, Permission.QUARANTINE_MANAGE}),
        builtin=False,
    ),
    RoleSpec(
        "responder",
        "Incident responder",
        frozenset({Permission.KPI_VIEW, Permission.INCIDENT_MANAGE}),
        builtin=False,
    ),
    RoleSpec(
        "auditor",
        "Quarantine auditor",
        frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW, Permission.QUARANTINE_MANAGE}),
        builtin=False,
    ),
)
SAM, RITA, WES, EVE, CLEO, AUDE, NORA, IAN = (
    "sam@example.com",
    "rita@example.com",
    "wes@example.com",
    "eve@example.com",
    "cleo@example.com",
    "aude@example.com",
    "nora@example.com",
    "ian@example.com",
)
USERS = (
    UserSpec(SAM, "Sam Steward", ("steward",), ("acme",)),
    UserSpec(RITA, "Rita East", ("steward",), ("east",)),
    UserSpec(WES, "Wes West", ("steward",), ("west",)),
    UserSpec(EVE, "Eve Executive", ("executive",), ("acme",)),
    UserSpec(CLEO, "Cleo Clerk", ("clerk",), ("acme",)),
    UserSpec(AUDE, "Aude Auditor", ("auditor",), ("acme",)),
    UserSpec(NORA, "Nora Norole", (), ("acme",)),
    UserSpec(IAN, "Ian Incidents", ("responder",), ("acme",)),
)


def order_fields(max_amount: float) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(name="order_id", type=FieldType.STRING, role=FieldRole.EVENT_ID),
        FieldSpec(name="ts", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
        FieldSpec(name="unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT),
        FieldSpec(name="amount", type=FieldType.FLOAT, role=FieldRole.MEASURE, max=max_amount),
        FieldSpec(
            name="channel",
            type=FieldType.ENUM,
            role=FieldRole.DIMENSION,
            allowed=("web", "app"),
            required=False,
        ),
        FieldSpec(
            name="email",
            type=FieldType.STRING,
            role=FieldRole.ATTRIBUTE,
            classification=Classification.PII,
            pattern=r"^[^@\s]+@[^@\s]+$",
            required=False,
        ),
        FieldSpec(
            name="margin",
            type=FieldType.FLOAT,
            role=FieldRole.ATTRIBUTE,
            classification=Classification.CONFIDENTIAL,
            required=False,
        ),
    )


def source_spec(key: str, owner: str, fields: tuple[FieldSpec, ...]) -> SourceSpec:
    return SourceSpec(
        key=key,
        name=key.title(),
        owner_unit_key=owner,
        refresh_mode=RefreshMode.STREAMING,
        freshness_sla_s=300,
        expected_volume_per_15m=40,
        retention_days=30,
        fields=fields,
        description=f"The {key} feed.",
    )


@dataclass
class World:
    app: Flask
    engine: Engine
    services: Services
    users: dict[str, int]
    sources: dict[str, int]
    keys: dict[str, str]

    def client(self, email: str | None) -> FlaskClient:
        client = self.app.test_client()
        if email is not None:
            assert sign_in(client, email=email, password=PASSWORD).status_code == 303
        return client


def seed(engine: Engine) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """Units acme > west, east; orders (owned by acme, steward Sam) and returns (owned by
    east); the roles and users above; an API key per source."""
    with Session(engine) as session, session.begin():
        upsert_org_unit(session, OrgUnitSpec("acme", "Acme", OrgLevel.COMPANY), ACTOR)
        for key in ("west", "east"):
            upsert_org_unit(session, OrgUnitSpec(key, key.title(), OrgLevel.REGION, "acme"), ACTOR)
        for role in ROLES:
            upsert_role(session, role, ACTOR)
        made = {spec.email: create_user(session, spec, PASSWORD, ACTOR) for spec in USERS}
        orders = upsert_source(
            session, source_spec("orders", "acme", order_fields(100)), ACTOR, steward=made[SAM]
        )
        returns = upsert_source(session, source_spec("returns", "east", order_fields(10)), ACTOR)
        keys = {s.key: create_key(session, s, ACTOR) for s in (orders, returns)}
        session.flush()
        return (
            {email: user.id for email, user in made.items()},
            {"orders": orders.id, "returns": returns.id},
            keys,
        )


def order(order_id: str, amount: Any, unit: str = "west", **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "ts": EVENT_TS,
        "unit": unit,
        "amount": amount,
        "channel": "web",
        "email": PII,
        "margin": MARGIN,
    } | extra


ORDERS_BODY = [
    json.dumps(order("ok-1", 50)),
    json.dumps(order("big-1", 150)),
    json.dumps(order("big-2", 150)),
    json.dumps(order("huge", 5000)),
    json.dumps(order("lost", 20, unit="atlantis")),
    json.dumps(order("typed", "12")),
    json.dumps(order("badmail", 20, email="not-an-email")),
    '{"order_id": "broken", "email": "' + PII_IN_RAW + '"',
]


def post_events(world: World, source: str, lines: Sequence[str]) -> dict[str, Any]:
    response = world.app.test_client().post(
        f"/api/v1/sources/{source}/events",
        data="\n".join(lines) + "\n",
        headers={"Authorization": f"Bearer {world.keys[source]}"},
        content_type="application/x-ndjson",
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


@pytest.fixture
def world(
    db: Engine, redis_client: redis.Redis, settings: Settings, services: Services
) -> Iterator[World]:
    users, sources, keys = seed(db)
    app_settings = settings.model_copy(update=TEST_SETTINGS | {"rate_limit_enabled": False})
    app = create_app(app_settings, clock=FakeClock())
    built = World(app, db, services, users, sources, keys)
    assert post_events(built, "orders", ORDERS_BODY)["rejected"] == 6
    post_events(built, "returns", [json.dumps(order(f"{EAST_MARKER}-1", 99, unit="east"))])
    run_burst_worker(services)
    yield built
    app.extensions["northstar"].close()


def fix_contract(world: World, max_amount: float) -> None:
    """A new contract version for orders (the contract fix), as an admin would make it."""
    with Session(world.engine) as session, session.begin():
        source = session.scalars(select(Source).where(Source.key == "orders")).one()
        ensure_contract(session, source, order_fields(max_amount), ACTOR, note="raise the max")
    bump_catalog_version(world.services.redis)


def quarantine(engine: Engine) -> dict[str, tuple[str, str, int | None, int | None, str | None]]:
    """Every record by order id (or raw text): status, rule, contract version, actor, note."""
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT payload, raw, CAST(status AS text), rule, contract_version, acted_by, "
                "note FROM quarantine"
            )
        )
        return {
            (payload or {}).get("order_id", raw): (status, rule, version, by, note)
            for payload, raw, status, rule, version, by, note in found
        }


def record_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        found = connection.execute(text("SELECT id, payload, raw FROM quarantine"))
        return {(p or {}).get("order_id", raw): int(i) for i, p, raw in found}


def stored_events(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(text("SELECT event_id FROM events")).scalars())


def audit_rows(engine: Engine, action: str) -> list[AuditLog]:
    with Session(engine) as session:
        return list(
            session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        )
