"""A world for the read API: Group → EMEA (Germany) and Americas (US), orders and sessions, three
KPIs, a global and a regional executive, a user without roles, and personal access tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from dashboard.app import create_app
from ingest import versions
from ingest.demo.catalog import COMPANY, ORDERS, REGIONS, ROLES, WEB_SESSIONS
from integration.auth_support import PASSWORD, FakeClock
from models.accounts import UserSpec, create_user, upsert_role
from models.audit import Actor
from models.catalog import (
    KpiSpec,
    OrgUnitSpec,
    org_unit_ids_by_key,
    source_ids_by_key,
    upsert_kpi,
    upsert_org_unit,
    upsert_source,
)
from models.enums import Direction, OrgLevel, TargetAllocation, TargetGrain
from models.settings import Settings
from models.target_periods import add_months
from models.targets import TargetPlanSpec, apply_target_plans
from models.tokens import create_token
from models.writes import EventRow, write_events

ACTOR = Actor("system:tests")
GLOBAL, REGIONAL, NOBODY = "grace@example.com", "elena@example.com", "sam@example.com"
MINUTE = dt.timedelta(minutes=1)
PERSONAL = "jane.customer@example.org"
"""A customer's address carried by order events: no answer of the read API may contain it."""
KPIS = (
    KpiSpec("revenue", "Revenue", "sum(orders.amount)", "group", "EUR", ",.0f",
            Direction.HIGHER_IS_BETTER, 15_000.0, 10_000.0, 5_000.0),
    KpiSpec("orders", "Orders", "count(orders)", "group", "orders", ",.0f",
            Direction.HIGHER_IS_BETTER, 200.0, 150.0, 100.0),
    KpiSpec("group_cash", "Group cash", "sum(orders.amount)", "group", "EUR", ",.0f",
            Direction.HIGHER_IS_BETTER, None, None, None, levels=(OrgLevel.COMPANY,)),
)  # fmt: skip
DAILY_PLAN = {"revenue": 15_000.0, "orders": 200.0}
"""EMEA's monthly plans, per day of the month: an equal split passes them whole to Germany,
its only country. Warning below 97 %, critical below 50 % of the pro-rated target."""


def plans(today: dt.date) -> list[TargetPlanSpec]:
    """EMEA's plans for the month before, this one and the next (a period may straddle two)."""
    first = today.replace(day=1)
    specs = []
    for offset in (-1, 0, 1):
        month = add_months(first, offset)
        days = (add_months(month, 1) - month).days
        for kpi, per_day in DAILY_PLAN.items():
            specs.append(
                TargetPlanSpec(
                    kpi, "emea", TargetGrain.MONTH, f"{month:%Y-%m}", per_day * days,
                    TargetAllocation.EQUAL, warn_pct=97.0, crit_pct=50.0,
                )
            )  # fmt: skip
    return specs


COUNTRIES = (
    OrgUnitSpec("de", "Germany", OrgLevel.COUNTRY, "emea"),
    OrgUnitSpec("us", "United States", OrgLevel.COUNTRY, "amer"),
)


@dataclass
class World:
    app: Flask
    engine: Engine
    units: dict[str, int]
    sources: dict[str, int]
    users: dict[str, int]
    now: dt.datetime
    written: int = 0

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def token(self, email: str = REGIONAL, expires_at: dt.datetime | None = None) -> str:
        with Session(self.engine) as session, session.begin():
            plaintext, _ = create_token(session, self.users[email], "tests", ACTOR, expires_at)
        return plaintext

    def get(self, token: str, path: str, **query: Any) -> TestResponse:
        return self.client().get(
            f"/api/v1{path}", query_string=query, headers={"Authorization": f"Bearer {token}"}
        )

    def write(self, unit: str, ago: dt.timedelta, amount: float) -> None:
        """One order, stored and announced as the ingest drain does after commit."""
        self.written += 1
        row = EventRow(
            self.now - ago,
            self.sources["orders"],
            f"e{self.written}",
            self.units[unit],
            {"amount": amount},
            attrs={"customer_email": PERSONAL},
        )
        services = self.app.extensions["northstar"]
        versions.bump(services.redis, write_events(services.engine, [row]).changed_metric_ids)


def seed(db: Engine) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    with Session(db) as session, session.begin():
        for unit in (COMPANY, *REGIONS, *COUNTRIES):
            upsert_org_unit(session, unit, ACTOR)
        for source in (ORDERS, WEB_SESSIONS):
            upsert_source(session, source, ACTOR)
        for kpi in KPIS:
            upsert_kpi(session, kpi, ACTOR)
        for role in ROLES:
            upsert_role(session, role, ACTOR)
        specs = [
            UserSpec(GLOBAL, "Grace Global", ("executive",), ("group",)),
            UserSpec(REGIONAL, "Elena Region", ("executive",), ("emea",)),
            UserSpec(NOBODY, "Sam Nokpi", (), ("group",)),
        ]
        users = {s.email: create_user(session, s, PASSWORD, ACTOR).id for s in specs}
        apply_target_plans(session, ACTOR, plans(dt.date.today()), fiscal_start_month=1)
        return org_unit_ids_by_key(session), source_ids_by_key(session), users


def build(db: Engine, settings: Settings) -> Iterator[World]:
    units, sources, users = seed(db)
    app = create_app(settings, clock=FakeClock())
    yield World(app, db, units, sources, users, dt.datetime.now(dt.UTC))
    app.extensions["northstar"].close()
