"""The read layer's world in real PostgreSQL: a company's units down to business units, orders
and web sessions with their contracts and KPIs, 5000 events from a fixed seed, and each
formula recomputed by hand from the raw events (what every read must equal)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from integration.factories import insert_metric, insert_source, insert_unit
from models.contracts import Contract
from models.formulas import Formula
from models.permissions import Permission, Principal
from models.queries.common import Period, read_connection
from models.queries.executive.definitions import KpiDefinition, load_kpis
from models.settings import Settings
from models.writes import EventRow, write_events

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
HOUR, DAY, MINUTE = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(minutes=1)

# id, key, level, parent id, path
UNITS = [
    (1, "acme", "company", None, "1"),
    (2, "emea", "region", 1, "1.2"),
    (3, "amer", "region", 1, "1.3"),
    (4, "de", "country", 2, "1.2.4"),
    (5, "fr", "country", 2, "1.2.5"),
    (6, "us", "country", 3, "1.3.6"),
    (7, "de_retail", "business_unit", 4, "1.2.4.7"),
    (8, "de_online", "business_unit", 4, "1.2.4.8"),
    (9, "fr_retail", "business_unit", 5, "1.2.5.9"),
    (10, "us_retail", "business_unit", 6, "1.3.6.10"),
    (11, "us_online", "business_unit", 6, "1.3.6.11"),
]
# Events land on business units, and a few on a country directly.
EVENT_UNITS = [7, 8, 9, 10, 11, 4]
PATHS = {unit_id: path for unit_id, _, _, _, path in UNITS}
KEYS = {unit_id: key for unit_id, key, _, _, _ in UNITS}

ORDERS_FIELDS = [
    {"name": "order_id", "type": "string", "role": "event_id"},
    {"name": "ts", "type": "timestamp", "role": "timestamp"},
    {"name": "unit", "type": "string", "role": "org_unit", "reference": "org_units"},
    {"name": "amount", "type": "float", "role": "measure", "min": 0},
    {"name": "channel", "type": "enum", "role": "dimension", "allowed": ["web", "store"]},
    {"name": "email", "type": "string", "role": "attribute", "classification": "pii"},
    {"name": "margin", "type": "string", "role": "attribute", "classification": "confidential"},
    {"name": "coupon", "type": "string", "role": "attribute", "classification": "internal"},
]
SESSIONS_FIELDS = ORDERS_FIELDS[:3]

KPIS = {
    "revenue": "sum(orders.amount)",
    "orders": "count(orders)",
    "aov": "sum(orders.amount) / count(orders)",
    "conversion": "100 * count(orders) / count(web_sessions)",
    "largest_order": "max(orders.amount)",
    "smallest_order": "min(orders.amount)",
    "avg_order": "avg(orders.amount)",
}

GLOBAL = Principal(1, frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW}), ("1",))
EMEA = Principal(2, frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW}), ("1.2",))
STEWARD = Principal(3, frozenset(Permission), ("1",))


@dataclass(frozen=True)
class Raw:
    ts: dt.datetime
    source: str
    unit_id: int
    amount: float | None


def subtree(unit_id: int) -> set[int]:
    root = PATHS[unit_id]
    return {u for u, p in PATHS.items() if p == root or p.startswith(root + ".")}


def recompute(
    formula: Formula, raw: list[Raw], unit_id: int, start: dt.datetime, end: dt.datetime
) -> float | None:
    """The formula computed by hand from the raw events: what every rollup read must equal."""
    units = subtree(unit_id)
    picked = [e for e in raw if start <= e.ts < end and e.unit_id in units]
    values: dict[Any, float | None] = {}
    for agg in formula.aggregates:
        source, _, measure = agg.metric_key.partition(".")
        xs = [e.amount if measure else 1.0 for e in picked if e.source == source]
        xs = [x for x in xs if x is not None]
        values[agg] = {
            "count": float(len(xs)),
            "sum": sum(xs),
            "min": min(xs) if xs else None,
            "max": max(xs) if xs else None,
            "avg": sum(xs) / len(xs) if xs else None,
        }[agg.func]
    return formula.evaluate(values)


def same(actual: float | None, expected: float | None) -> bool:
    """Equal up to float summation order; None (no value) only equals None."""
    if actual is None or expected is None:
        return actual is expected
    return actual == pytest.approx(expected, rel=1e-9)


def _insert_world(connection: Connection) -> None:
    for unit_id, key, level, parent, path in UNITS:
        insert_unit(connection, unit_id, key, level, path, parent)
    for source_id, key in [(1, "orders"), (2, "web_sessions")]:
        insert_source(connection, source_id, key, freshness_sla_s=60)
    # Version 1 did not classify the email yet: the current (highest) version must win.
    old_orders = [dict(f, classification="internal") for f in ORDERS_FIELDS]
    contracts = [(1, 1, old_orders), (1, 2, ORDERS_FIELDS), (2, 1, SESSIONS_FIELDS)]
    for source_id, version, fields in contracts:
        Contract.from_row(version, fields)  # the test data itself must be a valid contract
        connection.execute(
            text(
                "INSERT INTO source_contracts (source_id, version, fields) "
                "VALUES (:s, :v, CAST(:f AS jsonb))"
            ),
            {"s": source_id, "v": version, "f": json.dumps(fields)},
        )
    for metric_id, key, source_id, measure in [
        (1, "orders", 1, None),
        (2, "orders.amount", 1, "amount"),
        (3, "web_sessions", 2, None),
    ]:
        insert_metric(connection, metric_id, key, source_id, measure)
    for key, formula in KPIS.items():
        connection.execute(
            text(
                "INSERT INTO kpis (key, name, owner_unit_id, formula) "
                "VALUES (:key, :name, 1, :formula)"
            ),
            {"key": key, "name": key.title(), "formula": formula},
        )


def _events(rng: random.Random) -> tuple[list[EventRow], list[Raw]]:
    rows, raw = [], []
    span = int((4 * DAY).total_seconds())
    for i in range(3000):
        ts = T0 - DAY + dt.timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        unit = rng.choice(EVENT_UNITS)
        amount = round(rng.uniform(5, 500), 2)
        attrs = {"email": f"buyer{i}@example.com", "margin": "thin", "coupon": "SPRING"}
        rows.append(EventRow(ts, 1, f"o{i}", unit, {"amount": amount}, {"channel": "web"}, attrs))
        raw.append(Raw(ts, "orders", unit, amount))
    for i in range(2000):
        ts = T0 - DAY + dt.timedelta(seconds=rng.randrange(span))
        unit = rng.choice(EVENT_UNITS)
        rows.append(EventRow(ts, 2, f"s{i}", unit))
        raw.append(Raw(ts, "web_sessions", unit, None))
    return rows, raw


@dataclass(frozen=True)
class World:
    engine: Engine
    settings: Settings
    raw: list[Raw]

    def read(self) -> AbstractContextManager[Connection]:
        return read_connection(self.engine, self.settings)


@pytest.fixture
def world(db: Engine, settings: Settings) -> World:
    with db.begin() as connection:
        _insert_world(connection)
    rows, raw = _events(random.Random(20260302))
    for start in range(0, len(rows), 1000):
        write_events(db, rows[start : start + 1000])
    return World(db, settings, raw)


@pytest.fixture
def conn(world: World) -> Iterator[Connection]:
    with world.read() as connection:
        yield connection


def kpis_by_key(connection: Connection, principal: Principal = GLOBAL) -> dict[str, KpiDefinition]:
    return {kpi.key: kpi for kpi in load_kpis(connection, principal)}


UNALIGNED = Period(T0 + 5 * HOUR + 17 * MINUTE, T0 + 2 * DAY + 3 * HOUR + 41 * MINUTE)
