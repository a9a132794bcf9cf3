"""The events page: scoped, capped, masked pages of raw events, as a function and over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from dash import no_update
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from models.accounts import RoleSpec, UserSpec, create_user, upsert_role
from models.permissions import Permission
from models.queries.events import EventCursor
from models.queries.masking import MASK
from models.settings import Settings

from .auth_support import ACTOR, PASSWORD
from .test_kpi_page import GLOBAL, NOW, REGIONAL, STEWARD, World, alert_text, make_world

PAGE_MAX = 3
VIEWER = "vic@example.com"
ALL_EVENTS = 8  # 5 orders and 3 tickets over 30 days


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    capped = settings.model_copy(update={"events_page_max": PAGE_MAX})
    for built in make_world(db, capped):
        with Session(db) as session, session.begin():
            role = RoleSpec("viewer", "KPI viewer", frozenset({Permission.KPI_VIEW}))
            upsert_role(session, role, ACTOR)
            spec = UserSpec(VIEWER, "Vic Viewer", ("viewer",), ("acme",))
            built.user_ids[VIEWER] = create_user(session, spec, PASSWORD, ACTOR).id
        yield built


def rows_of(
    kpi: object = "revenue",
    unit: object = None,
    period: object = "7d",
    *,
    after: object = None,
    order: object = "desc",
    size: object = 100,
    source: object = None,
) -> Any:
    from dashboard.pages import events

    params = {"kpi": kpi, "unit": unit, "period": period}
    return events.events_rows(params, after, order, size, source, [])


def event_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM events")).scalar_one())


# --- plain-function calls -------------------------------------------------------------------


def test_an_executive_sees_the_events_with_pii_masked(world: World) -> None:
    with world.signed_in(GLOBAL):
        rows, columns, status, _, sources = rows_of(size=PAGE_MAX)
    assert [r["event_id"] for r in rows] == ["o0", "o1", "o2"]  # newest first
    assert {r["a__email"] for r in rows} == {MASK}
    assert {r["a__margin"] for r in rows} == {"thin"}  # confidential: executives hold event:view
    assert {r["d__channel"] for r in rows} == {"web"}
    assert [c["headerName"] for c in columns][:4] == ["Time (UTC)", "Source", "Event id", "Unit"]
    assert sources == [{"label": "Orders", "value": "orders"}]
    assert "Events 1 to 3 (newest first) behind Revenue for ACME" in str(status.children)


def test_a_steward_with_pii_view_sees_the_personal_data(world: World) -> None:
    with world.signed_in(STEWARD):
        rows, *_ = rows_of()
    assert {r["a__email"] for r in rows} == {f"buyer{i}@example.com" for i in range(3)}


def test_without_event_view_the_events_are_refused(world: World) -> None:
    with world.signed_in(VIEWER):
        rows, _, status, cursor, _ = rows_of()
    assert rows == []
    assert cursor is None
    assert alert_text(status) == "Not allowed: missing permission event:view."


def test_a_page_size_of_a_billion_returns_at_most_the_configured_maximum(world: World) -> None:
    seen: list[str] = []
    after = None
    with world.signed_in(GLOBAL):
        for _ in range(ALL_EVENTS):
            rows, _, _, after, _ = rows_of("load", period="30d", size=10**9, after=after)
            assert len(rows) <= PAGE_MAX
            seen += [r["event_id"] for r in rows]
            if after is None:
                break
    assert len(seen) == ALL_EVENTS == len(set(seen))  # every event once, across pages


def test_oldest_first_starts_with_the_oldest_event(world: World) -> None:
    with world.signed_in(GLOBAL):
        newest, *_ = rows_of(period="30d", order="desc")
        oldest, *_ = rows_of(period="30d", order="asc")
    assert newest[0]["event_id"] == "o0"
    assert oldest[0]["event_id"] == "o4"
    assert oldest[0]["ts"] < oldest[-1]["ts"]


def test_filtering_by_source_shows_only_that_source(world: World) -> None:
    with world.signed_in(GLOBAL):
        rows, _, _, _, sources = rows_of("load", source="tickets")
    assert {r["source"] for r in rows} == {"tickets"}
    assert len(rows) == 3
    assert {s["value"] for s in sources} == {"orders", "tickets"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("source", "orders'; DROP TABLE events; --", "Invalid input: that source does not feed"),
        ("source", "users", "Invalid input: that source does not feed"),
        ("unit", "acme' OR '1'='1", "Not allowed: no such org unit in your scope"),
        ("kpi", 'revenue"); DELETE FROM events; --', "Invalid input: there is no KPI"),
        ("after", "'; DROP TABLE events; --", "Invalid input: not a valid events cursor"),
        ("size", -1, "Invalid input: page size must be a positive whole number"),
        ("size", "1e9", "Invalid input: page size must be a positive whole number"),
        ("size", True, "Invalid input: page size must be a positive whole number"),
        ("order", "1; SELECT pg_sleep(10)", "Invalid input: order must be asc or desc"),
    ],
)
def test_sql_metacharacters_and_wrong_types_are_harmless(
    world: World, field: str, value: object, message: str
) -> None:
    before = event_count(world.engine)
    with world.signed_in(GLOBAL):
        rows, _, status, cursor, _ = rows_of(**{field: value})
    assert rows == []
    assert cursor is None
    assert alert_text(status).startswith(message)
    assert event_count(world.engine) == before


def test_a_regional_executive_sees_only_their_region(world: World) -> None:
    with world.signed_in(REGIONAL):
        own, *_ = rows_of("load", period="30d", size=PAGE_MAX)
        other, _, status, _, _ = rows_of("load", unit="unit3", period="30d")
    assert own
    assert {r["unit"] for r in own} <= {"unit2", "unit2-de"}
    assert other == []
    assert alert_text(status) == "Not allowed: no such org unit in your scope."


def test_paging_buttons_move_through_the_cursor_history() -> None:
    from dashboard.pages import events

    c1, c2, c3 = (EventCursor(NOW, 1, f"o{i}").encode() for i in (1, 2, 3))
    assert events.navigate(events.NEXT_BUTTON_ID, None, c1, []) == (c1, [None])
    assert events.navigate(events.NEXT_BUTTON_ID, c1, c2, [None]) == (c2, [None, c1])
    assert events.navigate(events.PREVIOUS_BUTTON_ID, c2, c3, [None, c1]) == (c1, [None])
    assert events.navigate(events.ORDER_ID, c2, c3, [None, c1]) == (None, [])
    assert events.navigate(events.NEXT_BUTTON_ID, c3, None, [c2]) == (no_update, no_update)
    with pytest.raises(ValueError, match="not a valid events cursor"):
        events.navigate(events.NEXT_BUTTON_ID, None, "'; DROP TABLE events; --", [])


# --- through HTTP ---------------------------------------------------------------------------

OUTPUTS = [
    ("events-grid", "rowData"),
    ("events-grid", "columnDefs"),
    ("events-status", "children"),
    ("events-next-cursor", "data"),
    ("events-source", "options"),
]


def post_events(client: FlaskClient, params: object, size: object, source: object = None) -> Any:
    return client.post(
        "/_dash-update-component",
        json={
            "output": "".join(f"..{i}.{p}.." for i, p in OUTPUTS).replace("....", "..."),
            "outputs": [{"id": i, "property": p} for i, p in OUTPUTS],
            "inputs": [
                {"id": "events-params", "property": "data", "value": params},
                {"id": "events-after", "property": "data", "value": None},
            ],
            "state": [
                {"id": "events-order", "property": "value", "value": "desc"},
                {"id": "events-size", "property": "value", "value": size},
                {"id": "events-source", "property": "value", "value": source},
                {"id": "events-history", "property": "data", "value": []},
            ],
            "changedPropIds": ["events-params.data"],
        },
    )


def test_http_a_huge_page_size_is_capped_and_pii_stays_masked(world: World) -> None:
    params = {"kpi": "load", "unit": None, "period": "30d"}
    response = post_events(world.client(GLOBAL), params, 10**9)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = response.get_json()["response"]["events-grid"]["rowData"]
    assert 0 < len(rows) <= PAGE_MAX
    assert "@example.com" not in response.get_data(as_text=True)


def test_http_a_steward_sees_pii(world: World) -> None:
    params = {"kpi": "revenue", "unit": None, "period": "7d"}
    response = post_events(world.client(STEWARD), params, "3")
    rows = response.get_json()["response"]["events-grid"]["rowData"]
    assert rows[0]["a__email"] == "buyer0@example.com"


@pytest.mark.parametrize(
    ("params", "size", "source"),
    [
        ({"kpi": "load", "unit": "unit3", "period": "30d"}, 100, None),
        ({"kpi": "load", "unit": 3, "period": "30d"}, 100, None),
        ({"kpi": "load", "unit": "unit2", "period": "30d"}, {"$gt": 0}, None),
        ({"kpi": "load", "unit": "unit2", "period": "30d"}, 100, ["tickets"]),
        ({"kpi": ["load"], "period": "30d"}, 100, None),
        ("load", 100, None),
    ],
)
def test_http_forged_inputs_from_a_regional_executive_reveal_nothing(
    world: World, params: object, size: object, source: object
) -> None:
    response = post_events(world.client(REGIONAL), params, size, source)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    answer = response.get_json()["response"]
    assert answer["events-grid"]["rowData"] == []
    assert "unit3" not in body
    assert "Traceback" not in body
    assert "@example.com" not in body
    assert "alert" in body


def test_http_anonymous_callback_is_refused(world: World) -> None:
    response = post_events(world.client(), {"kpi": "revenue"}, 100)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"
