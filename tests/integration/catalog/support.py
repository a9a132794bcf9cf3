"""Shared support of the catalogue-file tests: a small catalogue, applying text, users, events."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ingest.demo.catalog import ROLES
from models.accounts import UserSpec, create_user, upsert_role
from models.audit import Actor
from models.catalog_file import (
    CatalogFileError,
    Change,
    apply_catalog,
    parse_catalog_text,
    plan_catalog,
)
from models.sources import Source
from models.writes import EventRow, write_events

ACTOR = Actor("system:cli")
STEWARD = "sam@example.com"

UNITS = """
org_units:
  - {key: acme, name: Acme, level: company}
  - {key: east, name: East, level: region, parent: acme}
  - {key: west, name: West, level: region, parent: acme}
"""
ORDERS = """
  - key: orders
    name: Orders
    owner: acme
    steward: sam@example.com
    mode: streaming
    freshness_sla_s: 300
    retention_days: 30
    contract:
      fields:
        - {name: order_id, type: string, role: event_id}
        - {name: ts, type: timestamp, role: timestamp}
        - {name: org_unit, type: string, role: org_unit}
        - {name: amount, type: float, role: measure, min: 0}
        - {name: channel, type: enum, role: dimension, allowed: [web, store]}
"""
SPEND = """
  - key: spend
    name: Media spend
    description: Daily spend, pulled from the agency.
    owner: east
    mode: scheduled
    pull: {kind: http, target: "https://agency.example.com/spend", interval_s: 3600}
    freshness_sla_s: 129600
    expected_volume_per_15m: 2
    sensitivity: confidential
    partner_agreement: {reference: AGENCY-DPA-7, expires: "2030-06-30"}
    contract:
      fields:
        - {name: row_id, type: string, role: event_id}
        - {name: ts, type: timestamp, role: timestamp}
        - {name: org_unit, type: string, role: org_unit}
        - {name: cost, type: float, role: measure}
"""
METRICS = """
metrics:
  - {key: orders.amount, unit: EUR}
  - {key: spend.cost, name: Media cost, unit: EUR}
"""
KPIS = """
kpis:
  - key: revenue
    name: Revenue
    formula: sum(orders.amount)
    unit: EUR
    format: ",.0f"
    owner: acme
    steward: sam@example.com
    thresholds: {target: 1000, warn: 800, crit: 600}
  - key: roi
    name: Return on spend
    formula: sum(orders.amount) / sum(spend.cost)
    unit: x
    direction: higher_is_better
    owner: east
    granularity: day
    levels: [company, region]
"""
CATALOG = UNITS + "sources:" + ORDERS + SPEND + METRICS + KPIS
"""Two units under a root, a pushed and a pulled source, two metrics named, two KPIs."""


def add_user(
    engine: Engine,
    email: str = STEWARD,
    *,
    scope: str = "acme",
    units: str | None = UNITS,
    role: str = "steward",
) -> None:
    """A user with ``role`` (the demo's roles) seeing ``scope``, after applying ``units``."""
    if units is not None:
        apply_text(engine, units)
    with Session(engine) as session, session.begin():
        for spec in ROLES:
            upsert_role(session, spec, ACTOR)
        spec = UserSpec(email, "Sam Steward", (role,), (scope,))
        create_user(session, spec, "pw-long-enough-1", ACTOR)


def apply_text(engine: Engine, text: str, name: str = "catalog.yaml") -> list[Change]:
    """Apply one file's text in one committed transaction; the changes made."""
    with Session(engine) as session, session.begin():
        return apply_catalog(session, parse_catalog_text(name, text), ACTOR)


def plan_text(engine: Engine, text: str, name: str = "catalog.yaml") -> list[Change]:
    with Session(engine) as session:
        return plan_catalog(session, parse_catalog_text(name, text))


def refused(engine: Engine, text: str, name: str = "catalog.yaml") -> list[str]:
    """The problems applying ``text`` is refused with (as lines); asserts nothing changed."""
    with pytest.raises(CatalogFileError) as caught:
        apply_text(engine, text, name)
    return [str(p) for p in caught.value.problems]


def store_event(engine: Engine, source_key: str) -> None:
    """One stored event of the source (its org unit: the source's owner)."""
    with Session(engine) as session:
        source = session.scalars(select(Source).where(Source.key == source_key)).one()
        ids = (source.id, source.owner_unit_id)
    ts = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    write_events(engine, [EventRow(ts, ids[0], "e-1", ids[1], {"amount": 5.0})])
