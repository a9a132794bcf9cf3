"""The callback sweep's world: an organisation whose users see "home" and below, orders and
tickets in and out of their scope (out of scope with distinctive values), an open incident
and a quarantined record on each side, and one user per role."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dashboard.app import create_app
from ingest.demo.catalog import COMPANY, KPIS, ORDERS, ROLES, SUPPORT_TICKETS
from ingest.quality import runner
from integration.auth_support import ACTOR, PASSWORD, FakeClock, sign_in
from models.accounts import UserSpec, create_user, upsert_role
from models.catalog import (
    OrgUnitSpec,
    org_unit_ids_by_key,
    source_ids_by_key,
    upsert_kpi,
    upsert_org_unit,
    upsert_source,
)
from models.enums import OrgLevel
from models.permissions import Permission
from models.quarantine import QuarantinedRecord
from models.settings import Settings
from models.writes import EventRow, write_events

UPDATE = "/_dash-update-component"
NOW = dt.datetime.now(dt.UTC)
KPI_KEY = "revenue"
"""What the sweep puts in a page's path template (``/kpi/<kpi_key>``) and query string."""
PAGE_SEARCH = f"?kpi={KPI_KEY}&period=30d"
EXECUTIVE = "executive"
NO_ROLE = "no-role"
"""A signed-in user holding no role at all: every guarded callback must refuse them."""
GLOBAL = "global"
"""An executive of the whole company: first to load every page, so answers it may see
are in the cache (Redis) before the sweep; no other user may ever get them."""

# The organisation: users see "home" and below; "zz-veiled" and the company above are not theirs.
ROOT_KEY, HOME_KEY, HOME_CHILD_KEY = COMPANY.key, "home-region", "home-country"
HIDDEN_KEY, HIDDEN_CHILD_KEY = "zz-veiled", "zz-veiled-north"
UNITS = (
    COMPANY,
    OrgUnitSpec(HOME_KEY, "Homeland Region", OrgLevel.REGION, ROOT_KEY),
    OrgUnitSpec(HOME_CHILD_KEY, "Homeland Country", OrgLevel.COUNTRY, HOME_KEY),
    OrgUnitSpec(HIDDEN_KEY, "Quillmoor Region", OrgLevel.REGION, ROOT_KEY),
    OrgUnitSpec(HIDDEN_CHILD_KEY, "Quillmoor North", OrgLevel.COUNTRY, HIDDEN_KEY),
)
HOME_AMOUNTS = (120.0, 180.0)
HIDDEN_AMOUNT = 987_654.0
"""Each out-of-scope order's amount: it, the out-of-scope region's total and the company's
total are markers."""
HIDDEN_MARGIN = 4242.4242
PII_DOMAIN = "@pii-inscope.example"
HIDDEN_DATA = (
    "quillmoor",
    "zqleak",
    str(HIDDEN_MARGIN),
    *(
        shown
        for amount in (HIDDEN_AMOUNT, 2 * HIDDEN_AMOUNT, 2 * HIDDEN_AMOUNT + sum(HOME_AMOUNTS))
        for shown in (f"{amount:.0f}", f"{amount:,.0f}")
    ),
)
"""Out-of-scope data the attacker never sends: unit names, event ids, e-mail domain
(``@quillmoor.example``), values, and the totals they would show up in."""
HIDDEN_KEYS = (HIDDEN_KEY, HIDDEN_CHILD_KEY)
"""Out-of-scope keys: the attacker sends them, so an answer may echo one it was sent."""
HOME_DATA = "homeland"
HOME_FEED = dataclasses.replace(ORDERS, key="home_feed", name="Home feed", owner_unit_key=HOME_KEY)
HIDDEN_FEED = dataclasses.replace(
    ORDERS, key="zqleak_feed", name="Quillmoor feed", owner_unit_key=HIDDEN_KEY
)
"""Sources owned by the users' unit and by the veiled one: a data-quality cycle opens an
incident on each (no events ever), so the steward console has one in scope and one not."""
TRACE_TEXT = ("Traceback", 'File "')


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    app: Flask
    engine: Engine
    units: dict[str, int]
    users: dict[str, int]
    """User id by role key (and NO_ROLE, GLOBAL); all but GLOBAL see HOME_KEY only."""
    incidents: dict[str, int]
    """The open incident of each source, by source key."""
    quarantined: dict[str, int]
    """A quarantined record of each feed, by source key."""

    def path_values(self) -> dict[str, str]:
        """What the sweep puts in each part of the pages' path templates."""
        return {
            "kpi_key": KPI_KEY,
            "incident_id": str(self.incidents[HOME_FEED.key]),
            "key": HOME_FEED.key,  # the admin's source page
            "rule_id": "new",  # the alert editor's form for a new rule
        }

    def client(self, role: str | None) -> FlaskClient:
        """A client signed in as the user of ``role``; anonymous for None."""
        client = self.app.test_client()
        if role is not None:
            response = sign_in(client, email=email_of(role), password=PASSWORD)
            assert response.status_code == 303, role
        return client


def email_of(role: str) -> str:
    return f"{role}@example.com"


def permissions_of(role: str) -> frozenset[Permission]:
    return next((r.permissions for r in ROLES if r.key == role), frozenset())


def seed(engine: Engine) -> tuple[dict[str, int], dict[str, int]]:
    """Units, the demo orders and tickets sources and their KPIs, one regional user per role.

    Returns:
        unit ids by key, user ids by role key.
    """
    with Session(engine) as session, session.begin():
        for unit in UNITS:
            upsert_org_unit(session, unit, ACTOR)
        for source in (ORDERS, SUPPORT_TICKETS, HOME_FEED, HIDDEN_FEED):
            upsert_source(session, source, ACTOR)
        for kpi in KPIS:
            if "web_sessions" not in kpi.formula and "marketing_spend" not in kpi.formula:
                upsert_kpi(session, kpi, ACTOR)
        for role in ROLES:
            upsert_role(session, role, ACTOR)
        specs = {r.key: UserSpec(email_of(r.key), r.name, (r.key,), (HOME_KEY,)) for r in ROLES}
        specs[NO_ROLE] = UserSpec(email_of(NO_ROLE), "Nora Norole", (), (HOME_KEY,))
        specs[GLOBAL] = UserSpec(email_of(GLOBAL), "Grace Global", (EXECUTIVE,), (ROOT_KEY,))
        users = {
            role: create_user(session, spec, PASSWORD, ACTOR).id for role, spec in specs.items()
        }
        units = org_unit_ids_by_key(session)
        sources = source_ids_by_key(session)
    write_world_events(engine, units, sources)
    return units, users


def write_world_events(engine: Engine, units: dict[str, int], sources: dict[str, int]) -> None:
    """Orders and tickets in scope (with e-mails) and out of scope (distinctive values)."""
    orders, tickets = sources[ORDERS.key], sources[SUPPORT_TICKETS.key]
    rows = [
        EventRow(
            NOW - dt.timedelta(hours=n + 1),
            orders,
            f"in-o{n}",
            units[HOME_CHILD_KEY if n else HOME_KEY],
            {"amount": amount, "items": 1.0},
            {"channel": "web"},
            {"customer_email": f"buyer{n}{PII_DOMAIN}", "margin": 12.5},
        )
        for n, amount in enumerate(HOME_AMOUNTS)
    ]
    rows += [
        EventRow(
            NOW - dt.timedelta(hours=n + 1),
            orders,
            f"zqleak-o{n}",
            units[unit],
            {"amount": HIDDEN_AMOUNT, "items": 1.0},
            {"channel": "store"},
            {"customer_email": f"spy{n}@quillmoor.example", "margin": HIDDEN_MARGIN},
        )
        for n, unit in enumerate(HIDDEN_KEYS)
    ]
    rows += [
        EventRow(NOW - dt.timedelta(hours=2), tickets, f"{prefix}-t{n}", units[unit], {})
        for n, (prefix, unit) in enumerate((("in", HOME_CHILD_KEY), ("zqleak", HIDDEN_CHILD_KEY)))
    ]
    write_events(engine, rows)


def open_incidents(engine: Engine, settings: Settings) -> dict[str, int]:
    """One data-quality cycle at NOW: every source is late (orders and tickets for an hour,
    the feeds never had an event), so each gets an open freshness incident.

    Returns:
        incident ids by source key.
    """
    runner.run_cycle(engine, settings, NOW)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT s.key, i.id FROM incidents i JOIN sources s ON s.id = i.source_id")
        )
        found = {str(key): int(id_) for key, id_ in rows}
    assert {HOME_FEED.key, HIDDEN_FEED.key, ORDERS.key} <= set(found), found
    return found


def quarantine_records(engine: Engine) -> dict[str, int]:
    """One open quarantined record of each feed: the users' carries an in-scope e-mail (masked
    without pii:view), the veiled one's out-of-scope markers.

    Returns:
        record ids by source key.
    """
    records = {
        HOME_FEED.key: {"order_id": "in-q1", "customer_email": f"queued{PII_DOMAIN}"},
        HIDDEN_FEED.key: {"order_id": "zqleak-q1", "customer_email": "spy@quillmoor.example"},
    }
    with Session(engine) as session, session.begin():
        sources = source_ids_by_key(session)
        found = {}
        for key, payload in records.items():
            record = QuarantinedRecord(
                source_id=sources[key],
                source_key=key,
                contract_version=1,
                payload={**payload, "org_unit": "nowhere", "amount": 1.0},
                field="org_unit",
                rule="unknown_org_unit",
                reason="org unit 'nowhere' does not exist",
            )
            session.add(record)
            session.flush()
            found[key] = record.id
    return found


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    units, users = seed(db)
    incidents = open_incidents(db, settings)
    quarantined = quarantine_records(db)
    # Thousands of callbacks from one user in seconds: per-user throttling would answer most.
    unthrottled = settings.model_copy(update={"rate_limit_enabled": False})
    app = create_app(unthrottled, clock=FakeClock())
    yield World(app, db, units, users, incidents, quarantined)
    app.extensions["northstar"].close()
