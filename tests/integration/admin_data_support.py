"""Shared world of the admin source and log viewer tests: units, roles, users, two sources.

Units acme > west, east. ``orders`` is owned by acme (contract with a max of 100 and an
integer measure, an API key), ``returns`` by east. Ada is a company-wide admin, Rex an admin
of east only; Sam a steward, Eve an executive, Nora has no role.
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
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from dashboard.app import create_app
from ingest.demo.catalog import ROLES
from ingest.runtime import Services
from integration.steward.quarantine_calls_support import Prop, post
from models.accounts import UserSpec, create_user, upsert_role
from models.api_keys import create_key
from models.catalog import OrgUnitSpec, SourceSpec, upsert_org_unit, upsert_source
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import Classification, OrgLevel, RefreshMode
from models.logs import AuditLog
from models.settings import Settings

from .auth_support import ACTOR, PASSWORD, FakeClock, sign_in
from .drain_support import TEST_SETTINGS

__all__ = ["Prop", "post"]

ADA, REX, SAM, EVE, NORA = (
    "ada@example.com",
    "rex@example.com",
    "sam@example.com",
    "eve@example.com",
    "nora@example.com",
)
USERS = (
    UserSpec(ADA, "Ada Admin", ("admin",), ("acme",)),
    UserSpec(REX, "Rex Regional", ("admin",), ("east",)),
    UserSpec(SAM, "Sam Steward", ("steward",), ("acme",)),
    UserSpec(EVE, "Eve Executive", ("executive",), ("acme",)),
    UserSpec(NORA, "Nora Norole", (), ("acme",)),
)
NOW = dt.datetime.now(dt.UTC)
EVENT_TS = (NOW - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_fields(max_amount: float, channels: tuple[str, ...] = ("web", "app")) -> list[FieldSpec]:
    return [
        FieldSpec(name="order_id", type=FieldType.STRING, role=FieldRole.EVENT_ID),
        FieldSpec(name="ts", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
        FieldSpec(name="unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT),
        FieldSpec(name="amount", type=FieldType.FLOAT, role=FieldRole.MEASURE, max=max_amount),
        FieldSpec(name="items", type=FieldType.INT, role=FieldRole.MEASURE, min=1),
        FieldSpec(
            name="channel",
            type=FieldType.ENUM,
            role=FieldRole.DIMENSION,
            allowed=channels,
            required=False,
        ),
        FieldSpec(
            name="email",
            type=FieldType.STRING,
            role=FieldRole.ATTRIBUTE,
            classification=Classification.PII,
            required=False,
        ),
    ]


def source_spec(key: str, owner: str, fields: Sequence[FieldSpec]) -> SourceSpec:
    return SourceSpec(
        key=key,
        name=key.title(),
        owner_unit_key=owner,
        refresh_mode=RefreshMode.STREAMING,
        freshness_sla_s=300,
        expected_volume_per_15m=40,
        retention_days=30,
        fields=tuple(fields),
        measure_units={"amount": "EUR"},
    )


@dataclass
class World:
    app: Flask
    engine: Engine
    services: Services
    users: dict[str, int]
    keys: dict[str, str]

    def client(self, email: str | None) -> FlaskClient:
        client = self.app.test_client()
        if email is not None:
            assert sign_in(client, email=email, password=PASSWORD).status_code == 303
        return client

    def ingest(self, source: str, records: Sequence[Any], key: str | None = None) -> Any:
        """POST records (dicts, or raw lines as str) as NDJSON; the response."""
        lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
        return self.app.test_client().post(
            f"/api/v1/sources/{source}/events",
            data="\n".join(lines) + "\n",
            headers={"Authorization": f"Bearer {key or self.keys[source]}"},
            content_type="application/x-ndjson",
        )

    def count(self, table: str) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    def audits(self, action: str) -> list[AuditLog]:
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
                )
            )

    def audit_total(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(AuditLog)) or 0)


def seed(engine: Engine) -> tuple[dict[str, int], dict[str, str]]:
    with Session(engine) as session, session.begin():
        upsert_org_unit(session, OrgUnitSpec("acme", "Acme", OrgLevel.COMPANY), ACTOR)
        for key in ("west", "east"):
            upsert_org_unit(session, OrgUnitSpec(key, key.title(), OrgLevel.REGION, "acme"), ACTOR)
        for role in ROLES:
            upsert_role(session, role, ACTOR)
        made = {spec.email: create_user(session, spec, PASSWORD, ACTOR) for spec in USERS}
        orders = upsert_source(session, source_spec("orders", "acme", order_fields(100)), ACTOR)
        returns = upsert_source(session, source_spec("returns", "east", order_fields(10)), ACTOR)
        keys = {s.key: create_key(session, s, ACTOR, label="seed") for s in (orders, returns)}
        session.flush()
        return {email: user.id for email, user in made.items()}, keys


@pytest.fixture
def world(
    db: Engine, redis_client: redis.Redis, settings: Settings, services: Services
) -> Iterator[World]:
    users, keys = seed(db)
    app_settings = settings.model_copy(update=TEST_SETTINGS | {"rate_limit_enabled": False})
    app = create_app(app_settings, clock=FakeClock())
    yield World(app, db, services, users, keys)
    app.extensions["northstar"].close()


def text_of(answer: Any) -> str:
    return json.dumps(answer, ensure_ascii=False)
