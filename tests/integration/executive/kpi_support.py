"""The KPI page's world, shared by its tests and by the cache, live, warm-call and
durable-version tests: a company ``acme`` with regions ``unit2`` (and its country ``unit2-de``)
and ``unit3``, orders and tickets, a company executive, a regional one and a steward; the
page's callback called as a plain function, and the body the browser posts for it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import plotly
import pytest
import redis
from dash import dcc, html
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dashboard.app import create_app
from dashboard.auth.policy import SignedInUser
from ingest.demo.catalog import ROLES
from integration.auth_support import ACTOR, PASSWORD, FakeClock, sign_in
from integration.factories import insert_unit, make_catalog
from models.accounts import UserSpec, create_user, upsert_role
from models.contracts import Contract
from models.enums import TargetGrain
from models.queries.principals import load_account
from models.settings import Settings
from models.targets import TargetPlanSpec, apply_target_plans
from models.writes import EventRow, write_events

GLOBAL = "grace@example.com"
REGIONAL = "elena@example.com"
STEWARD = "sam@example.com"
NOW = dt.datetime.now(dt.UTC)
ORDERS, TICKETS = 1, 2
ORDER_FIELDS = [
    {"name": "order_id", "type": "string", "role": "event_id"},
    {"name": "ts", "type": "timestamp", "role": "timestamp"},
    {"name": "unit", "type": "string", "role": "org_unit", "reference": "org_units"},
    {"name": "amount", "type": "float", "role": "measure"},
    {"name": "channel", "type": "string", "role": "dimension"},
    {"name": "email", "type": "string", "role": "attribute", "classification": "pii"},
    {"name": "margin", "type": "string", "role": "attribute", "classification": "confidential"},
]
# Events: (age, unit id, amount). Units: acme 1, unit2 2 (with country unit2-de 4), unit3 3.
CURRENT = [(dt.timedelta(minutes=1), 4, 100.0), (dt.timedelta(hours=2), 4, 200.0)]
CURRENT += [(dt.timedelta(days=1), 3, 110.0)]
PREVIOUS = [(dt.timedelta(days=10), 2, 100.0), (dt.timedelta(days=10, hours=1), 3, 100.0)]


@dataclass
class World:
    app: Flask
    engine: Engine
    user_ids: dict[str, int]

    def client(self, email: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if email is not None:
            assert sign_in(client, email=email, password=PASSWORD).status_code == 303
        return client

    @contextmanager
    def signed_in(self, email: str) -> Iterator[None]:
        """A request context in which ``email`` is the signed-in user (plain-function calls)."""
        with self.app.test_request_context("/_dash-update-component", method="POST"):
            with self.engine.connect() as connection:
                account = load_account(connection, self.user_ids[email])
            assert account is not None
            g._login_user = SignedInUser(account)
            yield


def _insert_catalog(engine: Engine) -> None:
    make_catalog(engine, children=2)
    with engine.begin() as connection:
        # Events are stamped from NOW, taken when this module is imported: an hour's SLA keeps
        # orders fresh however long the suite runs before these tests (tickets stay at 5 min).
        connection.execute(
            text("UPDATE sources SET freshness_sla_s = 3600 WHERE id = :id"), {"id": ORDERS}
        )
        insert_unit(connection, 4, "unit2-de", "country", "1.2.4", 2)
        connection.execute(
            text(
                "INSERT INTO source_contracts (source_id, version, fields) "
                "VALUES (:s, 1, CAST(:f AS jsonb))"
            ),
            {"s": ORDERS, "f": json.dumps(ORDER_FIELDS)},
        )
        Contract.from_row(1, ORDER_FIELDS)
        kpis = [
            ("revenue", "Revenue", "sum(orders.amount)", 500.0, "Money taken by orders."),
            ("load", "Orders per ticket", "count(orders.count) / count(tickets.count)", None, ""),
        ]
        for key, name, formula, target, description in kpis:
            connection.execute(
                text(
                    "INSERT INTO kpis (key, name, owner_unit_id, formula, target, unit, format, "
                    "description) VALUES (:k, :n, 1, :f, :t, 'EUR', ',.2f', :d)"
                ),
                {"k": key, "n": name, "f": formula, "t": target, "d": description},
            )
        connection.execute(text("SELECT setval('org_units_id_seq', 10)"))
    # ACME's yearly revenue plan: 500 EUR a day, so 3,500 EUR over the last 7 days.
    plans = [
        TargetPlanSpec("revenue", "acme", TargetGrain.YEAR, f"FY{year}", 500.0 * days)
        for year, days in ((NOW.year - 1, _days(NOW.year - 1)), (NOW.year, _days(NOW.year)))
    ]
    with Session(engine) as session, session.begin():
        apply_target_plans(session, ACTOR, plans, fiscal_start_month=1)


def _days(year: int) -> int:
    return (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days


def _insert_users(engine: Engine) -> dict[str, int]:
    with Session(engine) as session, session.begin():
        for spec in ROLES:
            upsert_role(session, spec, ACTOR)
        specs = [
            UserSpec(GLOBAL, "Grace Global", ("executive",), ("acme",)),
            UserSpec(REGIONAL, "Elena Region", ("executive",), ("unit2",)),
            UserSpec(STEWARD, "Sam Steward", ("steward",), ("acme",)),
        ]
        return {s.email: create_user(session, s, PASSWORD, ACTOR).id for s in specs}


def _insert_events(engine: Engine) -> None:
    rows = [
        EventRow(
            NOW - age,
            ORDERS,
            f"o{i}",
            unit,
            {"amount": amount},
            {"channel": "web"},
            {"email": f"buyer{i}@example.com", "margin": "thin"},
        )
        for i, (age, unit, amount) in enumerate(CURRENT + PREVIOUS)
    ]
    rows += [EventRow(NOW - dt.timedelta(hours=3), TICKETS, f"t{i}", 3) for i in range(3)]
    write_events(engine, rows)


def make_world(db: Engine, settings: Settings) -> Iterator[World]:
    _insert_catalog(db)
    user_ids = _insert_users(db)
    _insert_events(db)
    app = create_app(settings, clock=FakeClock())
    yield World(app, db, user_ids)
    app.extensions["northstar"].close()


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    yield from make_world(db, settings)


def dump(component: Any) -> str:
    """What the browser would receive, as text."""
    return json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def find(component: Any, component_id: str) -> Any:
    """The component with this id inside a layout tree, or None."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = find(child, component_id)
            if found is not None:
                return found
    return None


def alert_text(component: Any) -> str:
    assert getattr(component, "role", None) == "alert", dump(component)[:300]
    return str(component.children)


def kpi_view(params: object, period: object = "7d", granularity: object = "auto") -> Any:
    """The callback's outputs as one tree: the refusal alone, or every part of the page."""
    from dashboard.executive.pages import kpi

    result = kpi.kpi_view(params, period, granularity)
    if result.detail_hidden:
        return result.head
    graph = dcc.Graph(id=kpi.TREND_GRAPH_ID, figure=result.trend)
    parts = [result.head, graph, html.Small(result.trend_note), result.definition]
    return html.Div([*parts, result.breakdown])


KPI_OUTPUTS = [
    ("kpi-head", "children"),
    ("kpi-detail", "hidden"),
    ("kpi-trend-graph", "figure"),
    ("kpi-trend-note", "children"),
    ("kpi-definition", "children"),
    ("kpi-breakdown", "children"),
    ("kpi-live-watch", "data"),
]


def kpi_request(
    params: object,
    period: object = "7d",
    *,
    token: object = None,
    watch: object = None,
    changed: str = "kpi-params.data",
) -> dict[str, Any]:
    """The body the browser posts for ``kpi_view``."""
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in KPI_OUTPUTS) + "..",
        "outputs": [{"id": i, "property": p} for i, p in KPI_OUTPUTS],
        "inputs": [
            {"id": "kpi-params", "property": "data", "value": params},
            {"id": "kpi-period", "property": "value", "value": period},
            {"id": "kpi-granularity", "property": "value", "value": "auto"},
            {"id": "kpi-live-token", "property": "data", "value": token},
        ],
        "changedPropIds": [changed],
        "state": [{"id": "kpi-live-watch", "property": "data", "value": watch}],
    }


def post_kpi(client: FlaskClient, params: object, period: object = "7d") -> Any:
    return client.post("/_dash-update-component", json=kpi_request(params, period))
