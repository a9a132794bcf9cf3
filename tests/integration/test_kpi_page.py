"""The KPI page: its callback as a plain function and through HTTP as an attacker would."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import plotly
import pytest
import redis
from dash import dcc, html, no_update
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dashboard.app import create_app
from dashboard.auth.policy import SignedInUser
from ingest.demo.catalog import ROLES
from models.accounts import UserSpec, create_user, upsert_role
from models.contracts import Contract
from models.enums import TargetGrain
from models.queries.principals import load_account
from models.settings import Settings
from models.targets import TargetPlanSpec, apply_target_plans
from models.writes import EventRow, write_events

from .auth_support import ACTOR, PASSWORD, FakeClock, page_request, sign_in
from .factories import insert_unit, make_catalog

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
    from dashboard.pages import kpi

    result = kpi.kpi_view(params, period, granularity)
    if result.detail_hidden:
        return result.head
    graph = dcc.Graph(id=kpi.TREND_GRAPH_ID, figure=result.trend)
    parts = [result.head, graph, html.Small(result.trend_note), result.definition]
    return html.Div([*parts, result.breakdown])


# --- plain-function calls -------------------------------------------------------------------


def test_the_page_shows_value_summary_trend_breakdown_and_lineage(world: World) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "revenue", "unit": None})
    text_ = dump(page)
    summary = find(page, "kpi-summary").children
    # The 7 days end at the current minute's end: the pro-rated target is 3,500 EUR and at
    # most a minute's 0.35 EUR more.
    before, target, after = re.fullmatch(r"(.*) of ([0-9,.]+) EUR (\(.*)", summary).groups()
    assert before == (
        "Revenue is up 105.0 % on the previous 7 days at 410.00 EUR, led by UNIT2 "
        "(an improvement). It misses its target"
    )
    assert 3500.0 <= float(target.replace(",", "")) <= 3500.35
    assert after == "(ACME's own yearly plan, pro-rated). Data is fresh and complete."
    trend = find(page, "kpi-breakdown-graph")
    assert trend is not None
    assert "This period" in text_
    assert "Previous period" in text_
    assert '"dash": "dash"' in text_
    assert "Target" in text_
    assert "UNIT2" in text_
    assert "UNIT3" in text_
    assert "sum(orders.amount)" in text_
    assert "Money taken by orders." in text_
    assert "Fresh: newest event" in text_
    assert "/events?kpi=revenue&unit=acme&period=7d" in text_
    assert "/kpi/revenue?unit=unit2&period=7d" in text_


def test_a_regional_executive_asking_for_another_region_gets_a_clean_refusal(
    world: World,
) -> None:
    with world.signed_in(REGIONAL):
        for unit in ("unit3", "acme", "no-such-unit", "unit2' OR '1'='1"):
            page = kpi_view({"kpi": "revenue", "unit": unit})
            assert alert_text(page) == "Not allowed: no such org unit in your scope.", unit
            assert "UNIT3" not in dump(page)


def test_a_regional_executive_starts_at_their_region_and_never_sees_above_it(
    world: World,
) -> None:
    with world.signed_in(REGIONAL):
        page = kpi_view({"kpi": "revenue"})
        country = kpi_view({"kpi": "revenue", "unit": "unit2-de"})
    text_ = dump(page)
    assert "Revenue · UNIT2" in text_
    assert "UNIT3" not in text_
    assert '"label": "ACME"' not in text_  # the breadcrumb starts at the scope root
    assert "300.00 EUR" in text_  # only the region's own events
    crumbs = dump(country)
    assert '"label": "UNIT2", "href": "/kpi/revenue?unit=unit2&period=7d"' in crumbs
    assert '"label": "ACME"' not in crumbs


def test_drilling_down_gives_a_breadcrumb_back_to_the_scope_root(world: World) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "revenue", "unit": "unit2-de"}, "30d")
    text_ = dump(page)
    assert '"label": "ACME", "href": "/kpi/revenue?unit=acme&period=30d"' in text_
    assert '"label": "UNIT2", "href": "/kpi/revenue?unit=unit2&period=30d"' in text_
    assert "This unit has no child units in your scope." in text_


@pytest.mark.parametrize(
    "key", ["no-such-kpi", "revenue' OR '1'='1", "revenue; DROP TABLE kpis; --", "%"]
)
def test_a_forged_kpi_key_gets_a_clean_error(world: World, key: str) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": key})
    assert alert_text(page) == "Invalid input: there is no KPI with that key."
    with world.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM kpis")).scalar() == 2


@pytest.mark.parametrize(
    ("params", "period", "granularity", "message"),
    [
        ("revenue", "7d", "auto", "the page parameters are malformed"),
        ({"kpi": ["revenue"]}, "7d", "auto", "a KPI must be given by its key"),
        ({"kpi": "x" * 101}, "7d", "auto", "a KPI key must be 1 to 100 printable characters"),
        ({"kpi": "revenue", "unit": 3}, "7d", "auto", "a unit must be given by its key"),
        ({"kpi": "revenue"}, "forever", "auto", "period must be one of 1h, today, 7d, 30d"),
        ({"kpi": "revenue"}, "7d", "second", "granularity must be auto, minute, hour or day"),
        ({"kpi": "revenue"}, 7, "auto", "period must be one of 1h, today, 7d, 30d"),
    ],
)
def test_wrong_types_and_values_get_a_specific_message(
    world: World, params: object, period: object, granularity: object, message: str
) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view(params, period, granularity)
    assert alert_text(page) == f"Invalid input: {message}."


def test_too_fine_a_granularity_for_the_period_is_refused_with_advice(world: World) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "revenue"}, "30d", "minute")
    assert "choose a coarser granularity or a shorter period" in alert_text(page)
    with world.signed_in(GLOBAL):
        hourly = kpi_view({"kpi": "revenue"}, "1h", "hour")
    assert "One point per hour (as chosen)" in dump(hourly)


def test_refusals_are_written_to_the_access_log(world: World) -> None:
    with world.signed_in(REGIONAL):
        kpi_view({"kpi": "revenue", "unit": "unit3"})
        kpi_view({"kpi": "revenue"})
    with world.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT outcome, rows FROM access_log WHERE page = 'kpi' ORDER BY id")
        ).all()
    assert [r[0] for r in rows] == ["denied", "ok"]
    assert rows[1][1] > 0


# --- through HTTP ---------------------------------------------------------------------------


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


def test_http_the_page_answers_a_signed_in_user(world: World) -> None:
    response = post_kpi(world.client(GLOBAL), {"kpi": "revenue", "unit": "unit2"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    assert "Revenue is up" in body
    assert "UNIT2-DE" in body


@pytest.mark.parametrize(
    "params",
    [
        {"kpi": "revenue", "unit": "unit3"},
        {"kpi": "revenue", "unit": "acme"},
        {"kpi": "revenue", "unit": 3},
        {"kpi": "revenue", "unit": {"$ne": None}},
        {"kpi": "tickets' UNION SELECT email FROM users --", "unit": "unit3"},
        [1, 2, 3],
        None,
    ],
)
def test_http_forged_inputs_from_a_regional_executive_reveal_nothing(
    world: World, params: object
) -> None:
    response = post_kpi(world.client(REGIONAL), params)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    assert '"role": "alert"' in body.replace('":"', '": "')
    assert "UNIT3" not in body
    assert "UNIT2-DE" not in body
    assert "Traceback" not in body
    assert "example.com" not in body


def test_http_wrong_period_types_are_clean_errors_not_500(world: World) -> None:
    client = world.client(GLOBAL)
    for period in (["7d"], {"a": 1}, 10**30, "7d' OR 1=1"):
        response = post_kpi(client, {"kpi": "revenue"}, period)
        assert response.status_code == 200
        assert "Invalid input: period must be one of" in response.get_data(as_text=True)


def test_http_anonymous_callback_is_refused(world: World) -> None:
    response = post_kpi(world.client(), {"kpi": "revenue"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


def _route(client: FlaskClient, pathname: str, search: str) -> str:
    response = client.post("/_dash-update-component", json=page_request(pathname, search))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_http_the_kpi_and_events_urls_carry_their_parameters_to_the_callbacks(
    world: World,
) -> None:
    client = world.client(GLOBAL)
    kpi_page = _route(client, "/kpi/revenue", "?unit=unit2&period=30d")
    assert '"data":{"kpi":"revenue","unit":"unit2"}' in kpi_page
    assert '"value":"30d"' in kpi_page
    events_page = _route(client, "/events", "?kpi=revenue&unit=unit2&period=1h")
    assert '"data":{"kpi":"revenue","unit":"unit2","period":"1h"}' in events_page
    assert "events-grid" in events_page


def test_a_late_source_shows_its_badge_and_the_summary_warns(world: World) -> None:
    with world.signed_in(GLOBAL):
        page = kpi_view({"kpi": "load"})
    text_ = dump(page)
    summary = find(page, "kpi-summary").children
    assert "Take care with the data:" in summary
    assert "Tickets" in summary
    assert "✓ ok" in text_  # orders: an event a minute ago
    assert "✗ failing" in text_  # tickets: 3 h old, SLA 5 min: stale is failing
    assert "Late: newest event 3 h ago (SLA 5 min)" in text_


def test_clicking_a_bar_opens_that_unit_one_level_down(world: World) -> None:
    from dashboard.pages import kpi

    params = {"kpi": "revenue", "unit": None}
    with world.signed_in(GLOBAL):
        opened = kpi.open_clicked_unit({"points": [{"customdata": "unit2"}]}, params, "30d")
        forged = kpi.open_clicked_unit({"points": [{"customdata": ["x"]}]}, params, "30d")
        empty = kpi.open_clicked_unit({"points": []}, params, "30d")
    assert opened == "/kpi/revenue?unit=unit2&period=30d"
    assert forged is no_update
    assert empty is no_update
