"""The Overview page against real PostgreSQL and Redis: tiles, scope, quality badges, attacks."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
import redis
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dashboard.app import create_app
from dashboard.auth.policy import SignedInUser
from ingest import versions
from ingest.demo.catalog import COMPANY, ORDERS, REGIONS, ROLES, WEB_SESSIONS
from integration.auth_support import PASSWORD, FakeClock, page_request
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
from models.enums import Direction, OrgLevel, TargetGrain
from models.logs import AccessLog
from models.quarantine import QuarantinedRecord
from models.queries.principals import load_account
from models.settings import Settings
from models.targets import TargetPlanSpec, apply_target_plans
from models.writes import EventRow, write_events

ACTOR = Actor("system:tests")
GLOBAL, REGIONAL, STEWARD = "grace@example.com", "elena@example.com", "sam@example.com"
MINUTE = dt.timedelta(minutes=1)
UPDATE = "/_dash-update-component"
KPIS = (
    # The group's yearly plans (PLANS) are pro-rated to the hour for additive KPIs: 700 EUR in
    # an hour against 625 (15,000 a day) is on target; 5 orders against 8.3 (200 a day, warning
    # below 75 %) a warning; conversion 16.7 % against 30 (critical below 67 %) is critical.
    KpiSpec("revenue", "Revenue", "sum(orders.amount)", "group", "EUR", ",.0f",
            Direction.HIGHER_IS_BETTER, 15_000.0, 10_000.0, 5_000.0),
    KpiSpec("orders", "Orders", "count(orders)", "group", "orders", ",.0f",
            Direction.HIGHER_IS_BETTER, 200.0, 150.0, 100.0),
    KpiSpec("conversion", "Conversion rate", "100 * count(orders) / count(web_sessions)",
            "group", "%", ".1f", Direction.HIGHER_IS_BETTER, 30.0, 25.0, 20.0),
    KpiSpec("group_cash", "Group cash", "sum(orders.amount)", "group", "EUR", ",.0f",
            Direction.HIGHER_IS_BETTER, None, None, None, levels=(OrgLevel.COMPANY,)),
)  # fmt: skip
COUNTRIES = (OrgUnitSpec("de", "Germany", OrgLevel.COUNTRY, "emea"),
             OrgUnitSpec("us", "United States", OrgLevel.COUNTRY, "amer"),
             OrgUnitSpec("de-retail", "Germany Retail", OrgLevel.BUSINESS_UNIT, "de"))  # fmt: skip


@dataclass
class World:
    app: Flask
    units: dict[str, int]
    sources: dict[str, int]
    users: dict[str, int]
    now: dt.datetime
    written: int = 0

    def client(self, email: str | None = GLOBAL) -> FlaskClient:
        client = self.app.test_client()
        if email is not None:
            response = client.post("/login", data={"email": email, "password": PASSWORD})
            assert response.status_code == 303
        return client

    def write(self, source: str, unit: str, ago: dt.timedelta, amount: float = 0.0) -> None:
        """Store one event and bump the data versions, as the ingest drain does after commit."""
        ts = self.now - ago
        self.written += 1
        measures = {"amount": amount} if source == "orders" else {}
        row = EventRow(ts, self.sources[source], f"e{self.written}", self.units[unit], measures)
        services = self.app.extensions["northstar"]
        written = write_events(services.engine, [row])
        versions.bump(services.redis, written.changed_metric_ids)


def plans(year: int) -> list[TargetPlanSpec]:
    """The group's yearly plans: the daily figures of the comment on KPIS, for a year."""
    days = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    per_year = {"revenue": (15_000.0 * days, 66.67, 33.33), "orders": (200.0 * days, 75.0, 50.0),
                "conversion": (30.0, 83.33, 66.67)}  # fmt: skip
    return [
        TargetPlanSpec(key, "group", TargetGrain.YEAR, f"FY{year}", value, warn_pct=w, crit_pct=c)
        for key, (value, w, c) in per_year.items()
    ]


def seed(db: Engine) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Group → EMEA (Germany) and Americas (US); orders and web sessions; four KPIs; users."""
    with Session(db) as session, session.begin():
        for unit in (COMPANY, *REGIONS, *COUNTRIES):
            upsert_org_unit(session, unit, ACTOR)
        for source in (ORDERS, WEB_SESSIONS):
            upsert_source(session, source, ACTOR)
        for kpi in KPIS:
            upsert_kpi(session, kpi, ACTOR)
        year = dt.datetime.now(dt.UTC).year
        apply_target_plans(session, ACTOR, plans(year - 1) + plans(year), fiscal_start_month=1)
        for role in ROLES:
            upsert_role(session, role, ACTOR)
        specs = [
            UserSpec(GLOBAL, "Grace Global", ("executive",), ("group",)),
            UserSpec(REGIONAL, "Elena Region", ("executive",), ("emea",)),
            UserSpec(STEWARD, "Sam Nokpi", (), ("group",)),
        ]
        users = {s.email: create_user(session, s, PASSWORD, ACTOR).id for s in specs}
        return org_unit_ids_by_key(session), source_ids_by_key(session), users


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    units, sources, users = seed(db)
    app = create_app(settings, clock=FakeClock())
    yield World(app, units, sources, users, dt.datetime.now(dt.UTC))
    app.extensions["northstar"].close()


@pytest.fixture
def busy(world: World) -> World:
    """An hour of orders and sessions, fresh within every SLA, and an order the hour before."""
    for amount in (100.0, 200.0, 300.0):
        world.write("orders", "de", 2 * MINUTE, amount)
    for amount in (50.0, 50.0):
        world.write("orders", "us", 2 * MINUTE, amount)
    world.write("orders", "de", 90 * MINUTE, 400.0)
    for n in range(30):
        world.write("web_sessions", "de" if n < 20 else "us", MINUTE, float(n))
    return world


def overview() -> ModuleType:
    """The page module as the running app loaded it (Dash executes pages per app)."""
    return sys.modules["dashboard.executive.pages.overview"]


def call_as(world: World, email: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call a guarded callback as a plain function, signed in as ``email``; the first output
    of a callback with several (the tile grid of ``update_tiles``)."""
    with world.app.test_request_context(UPDATE, method="POST"):
        with world.app.extensions["northstar"].engine.connect() as connection:
            account = load_account(connection, world.users[email])
        assert account is not None
        g._login_user = SignedInUser(account)
        result = fn(*args)
    return result[0] if isinstance(result, tuple) else result


TILES_OUTPUT = "..overview-grid.children...overview-live-watch.data.."


def tiles_request(period: Any, unit: Any, token: Any = None) -> dict[str, Any]:
    """The body the browser posts for ``update_tiles`` (grid and live watch state)."""
    return {
        "output": TILES_OUTPUT,
        "outputs": [
            {"id": "overview-grid", "property": "children"},
            {"id": "overview-live-watch", "property": "data"},
        ],
        "inputs": [
            {"id": "overview-period", "property": "value", "value": period},
            {"id": "overview-unit", "property": "value", "value": unit},
            {"id": "overview-live-token", "property": "data", "value": token},
        ],
        "changedPropIds": ["overview-unit.value"],
        "state": [],
    }


def text_of(node: Any) -> str:
    """All strings in a rendered component tree (Dash JSON or component objects)."""
    if hasattr(node, "to_plotly_json"):
        node = node.to_plotly_json()
    if isinstance(node, dict):
        return " ".join(text_of(v) for v in node.values())
    if isinstance(node, list | tuple):
        return " ".join(text_of(v) for v in node)
    return str(node) if isinstance(node, str | int | float) else ""


def scope_select(body: dict[str, Any]) -> dict[str, Any]:
    """The props of the scope selector in a rendered page."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("id") == "overview-unit" and "options" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    [select] = found
    return select


def scope_options(body: dict[str, Any]) -> list[str]:
    return [option["value"] for option in scope_select(body)["options"]]


# --- tiles, as plain functions ------------------------------------------------------------


def test_tiles_show_values_changes_status_and_links_for_the_global_executive(busy: World) -> None:
    grid = call_as(busy, GLOBAL, overview().update_tiles, "1h", "group")
    shown = text_of(grid)
    for expected in ("Revenue", "700 EUR", "▲ +75.0 %", "On target",
                     "Orders", "5 orders", "Warning",
                     "Conversion rate", "16.7 %", "Critical", "Group cash", "Data OK"):  # fmt: skip
        assert expected in shown, expected
    assert "/kpi/revenue?unit=group&period=1h" in shown


def test_the_regional_executive_sees_only_its_region(busy: World) -> None:
    shown = text_of(call_as(busy, REGIONAL, overview().update_tiles, "1h", "emea"))
    assert "Last hour · EMEA · as of" in shown
    assert "600 EUR" in shown  # Germany's orders only
    assert "▲ +50.0 %" in shown
    assert "3 orders" in shown
    assert "15.0 %" in shown
    # A company-level KPI is not shown at region level.
    assert "Group cash" not in shown
    refused = text_of(call_as(busy, REGIONAL, overview().update_tiles, "1h", "amer"))
    assert "Not allowed: no such org unit in your scope." in refused
    assert "EUR" not in refused


def test_tiles_are_logged_with_the_rows_returned(busy: World, db: Engine) -> None:
    call_as(busy, GLOBAL, overview().update_tiles, "today", "group")
    call_as(busy, REGIONAL, overview().update_tiles, "today", "group")
    with Session(db) as session:
        logged = session.execute(
            select(AccessLog.user_id, AccessLog.rows, AccessLog.outcome)
            .where(AccessLog.page == "overview")
            .order_by(AccessLog.id)
        ).all()
    assert [(u, r, o.value) for u, r, o in logged] == [
        (busy.users[GLOBAL], 4, "ok"),
        (busy.users[REGIONAL], 0, "denied"),
    ]


def test_a_user_without_kpi_view_gets_a_clean_refusal(busy: World) -> None:
    shown = text_of(call_as(busy, STEWARD, overview().update_tiles, "1h", "group"))
    assert "Not allowed: missing permission kpi:view." in shown


# --- quality badge ------------------------------------------------------------------------


def test_the_badge_turns_failing_when_the_newest_event_is_older_than_the_sla(world: World) -> None:
    world.write("orders", "de", 10 * MINUTE, 100.0)  # orders' SLA is 5 minutes
    world.write("web_sessions", "de", 30 * dt.timedelta(seconds=1))
    shown = text_of(call_as(world, GLOBAL, overview().update_tiles, "1h", "group"))
    assert "Data failing" in shown
    assert "Orders: newest event is 10 min old (freshness SLA 5 min)" in shown
    world.write("orders", "de", dt.timedelta(seconds=20), 100.0)
    fresh = text_of(call_as(world, GLOBAL, overview().update_tiles, "1h", "group"))
    assert "Data failing" not in fresh
    assert "Data OK" in fresh


@pytest.mark.parametrize(("rejected", "label"), [(2, "Data warning"), (8, "Data failing")])
def test_a_high_rejected_share_warns_or_fails_kpis_reading_the_source(
    busy: World, db: Engine, rejected: int, label: str
) -> None:
    with Session(db) as session, session.begin():
        session.add_all(
            QuarantinedRecord(source_id=busy.sources["web_sessions"], source_key="web_sessions",
                              rule="type", reason="pages is not an integer")
            for _ in range(rejected)
        )  # fmt: skip
    grid = call_as(busy, GLOBAL, overview().update_tiles, "1h", "group")
    tiles = {card["props"]["id"]: text_of(card) for card in _cards(grid.to_plotly_json())}
    share = f"{rejected / (30 + rejected):.1%}"
    assert label in tiles["tile-conversion"]
    assert f"Web sessions: {share} of records rejected in the last hour" in tiles["tile-conversion"]
    # Revenue reads orders only: its badge is untouched.
    assert "Data OK" in tiles["tile-revenue"]


def _cards(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        if str(node.get("props", {}).get("id", "")).startswith("tile-"):
            return [node]
        return [c for v in node.values() for c in _cards(v)]
    if isinstance(node, list):
        return [c for v in node for c in _cards(v)]
    if hasattr(node, "to_plotly_json"):
        return _cards(node.to_plotly_json())
    return []


# --- through HTTP, as the browser and an attacker would -------------------------------------


def test_the_scope_selector_offers_only_the_users_own_subtrees(busy: World) -> None:
    for email, offered in (
        (GLOBAL, ["group", "amer", "us", "apac", "emea", "de"]),
        (REGIONAL, ["emea", "de"]),
    ):
        response = busy.client(email).post(UPDATE, json=page_request("/"))
        assert response.status_code == 200
        assert scope_options(response.get_json()) == offered  # business units are not offered
    # A unit in the query string is only preselected when it is one of the offered ones.
    client = busy.client(REGIONAL)
    chosen = client.post(UPDATE, json=page_request("/", "?unit=de&period=30d")).get_json()
    assert scope_select(chosen)["value"] == "de"
    forged = client.post(UPDATE, json=page_request("/", "?unit=amer&period=30d")).get_json()
    assert scope_select(forged)["value"] == "emea"


def test_tiles_through_http_for_the_signed_in_user(busy: World) -> None:
    response = busy.client(REGIONAL).post(UPDATE, json=tiles_request("1h", "emea"))
    assert response.status_code == 200
    assert "600 EUR" in text_of(response.get_json())


@pytest.mark.parametrize(
    ("period", "unit", "message"),
    [
        ("1h", "amer", "no such org unit in your scope"),
        ("1h", "group", "no such org unit in your scope"),  # above the grant
        ("1h", 1, "no such org unit in your scope"),  # an id instead of a key
        ("1h", 10**12, "no such org unit in your scope"),
        ("1h", "emea' OR '1'='1", "no such org unit in your scope"),
        ("1h", "x" * 5000, "a unit key must be 1 to 100 printable characters"),
        ("1h", {"$ne": "emea"}, "a unit must be given by its id or key"),
        ("1h", ["emea", "amer"], "a unit must be given by its id or key"),
        ("1h", None, "a unit must be given by its id or key"),
        ("1h); DROP TABLE kpis; --", "emea", "unknown period"),
        (3600, "emea", "unknown period"),
        ({"start": "2000-01-01"}, "emea", "unknown period"),
    ],
)
def test_forged_callback_inputs_get_a_clean_error_and_no_data(
    busy: World, period: Any, unit: Any, message: str
) -> None:
    response = busy.client(REGIONAL).post(UPDATE, json=tiles_request(period, unit))
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    assert message in body
    assert "EUR" not in body
    assert "Traceback" not in body


def test_anonymous_callback_posts_are_refused(busy: World) -> None:
    response = busy.client(None).post(UPDATE, json=tiles_request("1h", "group"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


def test_the_account_page_moved_and_the_overview_is_the_landing_page(busy: World) -> None:
    dependencies = busy.client().get("/_dash-dependencies").get_json()
    assert any(d["output"] == TILES_OUTPUT for d in dependencies)
    layout = busy.client().post(UPDATE, json=page_request("/"))
    assert "Overview" in text_of(layout.get_json())


def test_the_period_key_chooses_the_window(busy: World) -> None:
    # The order of 90 minutes ago is in the last 30 days but not in the last hour.
    hour = text_of(call_as(busy, GLOBAL, overview().update_tiles, "1h", "group"))
    month = text_of(call_as(busy, GLOBAL, overview().update_tiles, "30d", "group"))
    assert "700 EUR" in hour
    assert "1,100 EUR" in month
