"""The events page: scoped, capped, masked blocks of raw events, as functions and over HTTP.

The grid's header sort and column filters arrive as ag-grid's ``getRowsRequest``; here they
are posted as the browser posts them (shapes captured from dash-ag-grid 35 in Chromium).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from dash import no_update
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from integration.auth_support import ACTOR, PASSWORD
from integration.executive.test_kpi_page import (
    GLOBAL,
    NOW,
    ORDERS,
    REGIONAL,
    STEWARD,
    TICKETS,
    World,
    alert_text,
)
from integration.executive.test_kpi_page import make_world as make_kpi_world
from models.accounts import RoleSpec, UserSpec, create_user, upsert_role
from models.permissions import Permission
from models.queries.masking import MASK
from models.settings import Settings
from models.writes import EventRow, write_events

PAGE_MAX = 3
VIEWER = "vic@example.com"
# Orders beyond test_kpi_page's o0 … o4: (id, age, unit, amount, channel). Units: acme 1,
# unit2 2 (its country unit2-de 4), unit3 3.
MORE_ORDERS = [
    ("o5", dt.timedelta(minutes=30), 2, 50.0, "app"),
    ("o6", dt.timedelta(hours=3), 4, 300.0, "store"),
    ("o7", dt.timedelta(days=2), 3, 75.0, "app"),
    ("o8", dt.timedelta(days=4), 4, 20.0, "web_shop"),
]
# Revenue over the last 7 days, by amount: the 7 orders in the company.
BY_AMOUNT = ["o8", "o5", "o7", "o0", "o2", "o1", "o6"]
IN_UNIT2 = {"o0", "o1", "o5", "o6", "o8"}


def _more_events(engine: Engine) -> None:
    rows = [
        EventRow(
            NOW - age,
            ORDERS,
            event_id,
            unit,
            {"amount": amount},
            {"channel": channel},
            {"email": f"buyer{event_id[1:]}@example.com", "margin": "thin"},
        )
        for event_id, age, unit, amount, channel in MORE_ORDERS
    ]
    # The tickets source has no contract: its channel and e-mail are declared nowhere.
    rows.append(
        EventRow(
            NOW - dt.timedelta(hours=1),
            TICKETS,
            "t3",
            2,
            {},
            {"channel": "web"},
            {"email": "ticket@example.com"},
        )
    )
    write_events(engine, rows)


def make_world(db: Engine, settings: Settings) -> Iterator[World]:
    for built in make_kpi_world(db, settings):
        with Session(db) as session, session.begin():
            role = RoleSpec("viewer", "KPI viewer", frozenset({Permission.KPI_VIEW}))
            upsert_role(session, role, ACTOR)
            spec = UserSpec(VIEWER, "Vic Viewer", ("viewer",), ("acme",))
            built.user_ids[VIEWER] = create_user(session, spec, PASSWORD, ACTOR).id
        _more_events(db)
        yield built


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    yield from make_world(db, settings.model_copy(update={"events_page_max": PAGE_MAX}))


@pytest.fixture
def tight_world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    capped = settings.model_copy(update={"events_page_max": PAGE_MAX, "query_row_limit": 5})
    yield from make_world(db, capped)


def grid_request(
    start: int = 0,
    size: int = PAGE_MAX,
    sort: list[tuple[str, str]] | None = None,
    filters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A block request as dash-ag-grid 35 posts it (the default: newest first)."""
    return {
        "startRow": start,
        "endRow": start + size,
        "sortModel": [
            {"sort": direction, "type": "default", "colId": column}
            for column, direction in (sort if sort is not None else [("ts", "desc")])
        ],
        "filterModel": filters or {},
        "api": {},
    }


def text_filter(value: object, op: str = "equals") -> dict[str, Any]:
    return {"filterType": "text", "type": op, "filter": value}


def number_filter(op: str, value: float, to: float | None = None) -> dict[str, Any]:
    return {"filterType": "number", "type": op, "filter": value, "filterTo": to}


def grid_time(moment: dt.datetime) -> str:
    """A moment as ag-grid's date filter sends it (the picked wall-clock time, read as UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def rows_of(
    request: object = None, kpi: object = "revenue", unit: object = None, period: object = "7d"
) -> tuple[dict[str, Any], Any]:
    """(getRowsResponse, status) of one block, the callback called as a plain function."""
    from dashboard.executive.pages import events

    params = {"kpi": kpi, "unit": unit, "period": period}
    response, status = events.events_rows(grid_request() if request is None else request, params)
    return response, status


def ids(response: dict[str, Any]) -> list[str]:
    return [row["event_id"] for row in response["rowData"]]


def walk(
    world: World, email: str, kpi: str = "revenue", **request: Any
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Every block the grid would fetch page by page: (all rows, row count of each block)."""
    rows: list[dict[str, Any]] = []
    counts = []
    with world.signed_in(email):
        for start in range(0, 30, PAGE_MAX):
            response, _ = rows_of(grid_request(start, **request), kpi)
            rows += response["rowData"]
            counts.append(response.get("rowCount"))
            if "rowCount" in response:
                break
    return rows, counts


def event_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM events")).scalar_one())


def last_access(engine: Engine, user_id: int) -> tuple[str, str, dict[str, Any]]:
    """(action, outcome, detail) of the user's newest events-page ``access_log`` row."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT action, outcome, detail FROM access_log "
                "WHERE user_id = :user AND page = 'events' ORDER BY id DESC LIMIT 1"
            ),
            {"user": user_id},
        ).one()
    return str(row[0]), str(row[1]), dict(row[2])


# --- rows, masking, scope -------------------------------------------------------------------


def test_an_executive_sees_the_newest_events_with_pii_masked(world: World) -> None:
    with world.signed_in(GLOBAL):
        response, status = rows_of()
    assert ids(response) == ["o0", "o5", "o1"]  # 1 min, 30 min and 2 h old
    assert "rowCount" not in response  # more follow; nothing counted the whole result
    rows = response["rowData"]
    assert {r["a__email"] for r in rows} == {MASK}
    assert {r["a__margin"] for r in rows} == {"thin"}  # confidential: executives hold event:view
    assert [r["d__channel"] for r in rows] == ["web", "app", "web"]
    assert "The events behind Revenue for ACME, last 7 days (newest first)" in str(status.children)


def test_a_steward_with_pii_view_sees_the_personal_data(world: World) -> None:
    with world.signed_in(STEWARD):
        response, _ = rows_of()
    assert [r["a__email"] for r in response["rowData"]] == [
        "buyer0@example.com",
        "buyer5@example.com",
        "buyer1@example.com",
    ]


def test_without_event_view_the_events_and_columns_are_refused(world: World) -> None:
    from dashboard.executive.pages import events

    with world.signed_in(VIEWER):
        response, status = rows_of()
        columns = events.events_columns({"kpi": "revenue", "unit": None, "period": "7d"})
    assert response == {"rowData": [], "rowCount": 0}
    assert alert_text(status) == "Not allowed: missing permission event:view."
    assert columns == (no_update, None)
    assert last_access(world.engine, world.user_ids[VIEWER])[:2] == ("events_columns", "denied")


def test_a_regional_executive_sees_only_their_region(world: World) -> None:
    own, _ = walk(world, REGIONAL, sort=[("m__amount", "asc")])
    assert {r["event_id"] for r in own} == IN_UNIT2
    assert {r["unit"] for r in own} <= {"unit2", "unit2-de"}
    with world.signed_in(REGIONAL):
        other, status = rows_of(unit="unit3")
    assert other["rowData"] == []
    assert alert_text(status) == "Not allowed: no such org unit in your scope."


def test_a_block_of_a_billion_rows_returns_at_most_the_page_maximum(world: World) -> None:
    with world.signed_in(GLOBAL):
        response, _ = rows_of(grid_request(size=10**9), kpi="load", period="30d")
    assert len(response["rowData"]) == PAGE_MAX


# --- columns --------------------------------------------------------------------------------


def _columns(world: World, email: str) -> dict[str, dict[str, Any]]:
    from dashboard.executive.pages import events

    with world.signed_in(email):
        columns, sources = events.events_columns({"kpi": "load", "unit": None, "period": "7d"})
    assert "Orders (orders)" in sources
    return {c["field"]: c for c in columns}


def test_the_columns_offer_sorting_and_filtering_by_what_the_user_may_read(world: World) -> None:
    executive = _columns(world, GLOBAL)
    assert list(executive)[:4] == ["ts", "source", "event_id", "unit"]
    assert executive["ts"]["sort"] == "desc"
    assert executive["ts"]["filter"] == "agDateColumnFilter"
    assert executive["ts"]["filterParams"]["filterOptions"] == [
        "greaterThan",
        "lessThan",
        "inRange",
    ]
    assert executive["d__channel"]["filter"] == "agTextColumnFilter"
    assert executive["m__amount"]["filter"] == "agNumberColumnFilter"
    assert executive["a__margin"]["sortable"] is True
    email = executive["a__email"]
    assert (email["headerName"], email["sortable"], email["filter"]) == (
        "email (masked)",
        False,
        False,
    )
    steward = _columns(world, STEWARD)
    assert steward["a__email"]["filter"] == "agTextColumnFilter"


# --- filtering ------------------------------------------------------------------------------


def test_filtering_by_a_dimension_value_returns_only_matching_events_in_scope(
    world: World,
) -> None:
    app = {"d__channel": text_filter("app")}
    everywhere, _ = walk(world, GLOBAL, filters=app)
    regional, _ = walk(world, REGIONAL, filters=app)
    assert sorted(r["event_id"] for r in everywhere) == ["o5", "o7"]
    assert [r["event_id"] for r in regional] == ["o5"]  # o7 is in unit3
    shouting, _ = walk(world, GLOBAL, filters={"d__channel": text_filter("APP")})
    assert sorted(r["event_id"] for r in shouting) == ["o5", "o7"]  # like ag-grid: any case
    with world.signed_in(GLOBAL):
        response, status = rows_of(grid_request(filters=app))
    assert response["rowCount"] == 2
    assert "(newest first; filtered by channel)" in str(status.children)


def test_a_filter_applies_only_to_sources_that_declare_the_field(world: World) -> None:
    # t3 (tickets, no contract) carries channel=web in its dims: declared nowhere, so it is
    # treated as personal data (masked) and never matched.
    web, _ = walk(world, GLOBAL, "load", filters={"d__channel": text_filter("web")})
    other, _ = walk(world, GLOBAL, "load", filters={"d__channel": text_filter("app", "notEqual")})
    assert sorted(r["event_id"] for r in web) == ["o0", "o1", "o2"]
    assert sorted(r["event_id"] for r in other) == ["o0", "o1", "o2", "o6", "o8"]
    with world.signed_in(GLOBAL):
        newest, _ = rows_of(grid_request(), "load")
    assert ids(newest) == ["o0", "o5", "t3"]
    assert newest["rowData"][2]["d__channel"] == MASK


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"m__amount": number_filter("inRange", 50, 110)}, {"o5", "o7", "o0", "o2"}),
        (
            {
                "m__amount": {
                    "filterType": "number",
                    "operator": "OR",
                    "conditions": [
                        number_filter("greaterThan", 150),
                        number_filter("lessThan", 30),
                    ],
                }
            },
            {"o1", "o6", "o8"},
        ),
        (
            {
                "d__channel": {
                    "filterType": "text",
                    "operator": "AND",
                    "conditions": [
                        text_filter("web", "startsWith"),
                        text_filter("shop", "notContains"),
                    ],
                }
            },
            {"o0", "o1", "o2"},
        ),
        ({"d__channel": text_filter("_", "contains")}, {"o8"}),  # a literal underscore
        ({"d__channel": text_filter("%", "contains")}, set()),
        ({"d__channel": text_filter("hop", "endsWith")}, {"o8"}),
        ({"d__channel": {"filterType": "text", "type": "blank"}}, set()),
        ({"a__margin": text_filter("thin")}, set(BY_AMOUNT)),  # confidential: event:view reads it
        (
            {
                "d__channel": text_filter("app"),
                "m__amount": number_filter("greaterThanOrEqual", 75),
            },
            {"o7"},
        ),
    ],
)
def test_number_and_text_filters(world: World, filters: dict[str, Any], expected: set[str]) -> None:
    rows, _ = walk(world, GLOBAL, filters=filters)
    assert {r["event_id"] for r in rows} == expected


def test_a_time_range_within_the_period(world: World) -> None:
    recent = {
        "ts": {
            "filterType": "date",
            "type": "greaterThan",
            "dateFrom": grid_time(NOW - dt.timedelta(minutes=150)),
            "dateTo": None,
        }
    }
    between = {
        "ts": {
            "filterType": "date",
            "type": "inRange",
            "dateFrom": grid_time(NOW - dt.timedelta(days=2, hours=12)),
            "dateTo": grid_time(NOW - dt.timedelta(hours=12)),
        }
    }
    before = {
        "ts": {
            "filterType": "date",
            "type": "lessThan",
            "dateFrom": grid_time(NOW - dt.timedelta(days=3)),
            "dateTo": None,
        }
    }
    assert {r["event_id"] for r in walk(world, GLOBAL, filters=recent)[0]} == {"o0", "o5", "o1"}
    assert {r["event_id"] for r in walk(world, GLOBAL, filters=between)[0]} == {"o2", "o7"}
    # The period still bounds the result: o3 and o4 (10 days old) stay out of "last 7 days".
    assert {r["event_id"] for r in walk(world, GLOBAL, filters=before)[0]} == {"o8"}


def test_sql_in_a_filter_value_is_only_a_value(world: World) -> None:
    before = event_count(world.engine)
    hostile = {"d__channel": text_filter("web'; DROP TABLE events; --")}
    with world.signed_in(GLOBAL):
        response, status = rows_of(grid_request(filters=hostile))
    assert response == {"rowData": [], "rowCount": 0}
    assert "No events match." in str(status.children)
    assert event_count(world.engine) == before


# --- sorting --------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorting_by_a_header_orders_every_page(world: World, direction: str) -> None:
    rows, counts = walk(world, GLOBAL, sort=[("m__amount", direction)])
    expected = BY_AMOUNT if direction == "asc" else BY_AMOUNT[::-1]
    assert [r["event_id"] for r in rows] == expected
    assert counts == [None, None, 7]  # the count arrives with the last block
    amounts = [r["m__amount"] for r in rows]
    assert amounts == sorted(amounts, reverse=direction == "desc")


def test_sorting_by_text_then_time(world: World) -> None:
    rows, _ = walk(world, GLOBAL, sort=[("d__channel", "desc"), ("ts", "asc")])
    assert [r["event_id"] for r in rows] == ["o8", "o2", "o1", "o0", "o6", "o7", "o5"]
    with world.signed_in(GLOBAL):
        _, status = rows_of(grid_request(sort=[("d__channel", "desc")]))
    assert "(by channel, descending)" in str(status.children)


def test_oldest_first_and_no_sort_at_all(world: World) -> None:
    with world.signed_in(GLOBAL):
        oldest, status = rows_of(grid_request(sort=[("ts", "asc")]))
        unsorted, _ = rows_of(grid_request(sort=[]))
    assert ids(oldest) == ["o8", "o7", "o2"]
    assert "(oldest first)" in str(status.children)
    assert ids(unsorted) == ["o0", "o5", "o1"]  # newest first


def test_deep_pages_stop_at_the_row_limit(tight_world: World) -> None:
    with tight_world.signed_in(GLOBAL):
        first, _ = rows_of(grid_request(0))
        last, status = rows_of(grid_request(3))
        beyond, refusal = rows_of(grid_request(6))
    assert len(first["rowData"]) == PAGE_MAX
    assert (len(last["rowData"]), last["rowCount"]) == (2, 5)
    assert "Only the first 5 matching events can be paged through." in str(status.children)
    assert beyond == {"rowData": [], "rowCount": 0}
    assert alert_text(refusal) == (
        "Invalid input: only the first 5 matching events can be paged through; "
        "narrow the filters or the period."
    )


# --- personal data and forged requests ------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        grid_request(filters={"a__email": text_filter("buyer1", "contains")}),
        grid_request(filters={"a__email": {"filterType": "text", "type": "blank"}}),
        grid_request(sort=[("a__email", "asc")]),
        grid_request(sort=[("m__amount", "asc"), ("a__email", "desc")]),
    ],
)
def test_a_masked_field_can_be_neither_filtered_nor_sorted_without_pii_view(
    world: World, request_: dict[str, Any]
) -> None:
    with world.signed_in(GLOBAL):
        response, status = rows_of(request_)
    assert response == {"rowData": [], "rowCount": 0}
    assert alert_text(status) == (
        "Not allowed: email is masked for you; filtering or sorting by it needs pii:view."
    )
    action, outcome, detail = last_access(world.engine, world.user_ids[GLOBAL])
    assert (action, outcome) == ("events_rows", "denied")
    assert "a__email" in json.dumps(detail)
    assert "buyer1" not in json.dumps(detail)  # filter values are never logged


def test_a_steward_filters_and_sorts_by_personal_data(world: World) -> None:
    rows, _ = walk(world, STEWARD, filters={"a__email": text_filter("buyer5@example.com")})
    assert [r["event_id"] for r in rows] == ["o5"]
    by_email, _ = walk(world, STEWARD, sort=[("a__email", "desc")])
    assert [r["event_id"] for r in by_email] == ["o8", "o7", "o6", "o5", "o2", "o1", "o0"]
    with world.signed_in(STEWARD):
        # The tickets' e-mail is declared by no contract: a steward's filter ignores it too.
        response, _ = rows_of(
            grid_request(filters={"a__email": text_filter("ticket", "contains")}), "load"
        )
    assert response["rowData"] == []


FORGED: list[tuple[str, object, str]] = [
    (
        "unknown column",
        grid_request(sort=[("d__nope", "asc")]),
        "Invalid input: there is no column 'nope'",
    ),
    (
        "field of another role",
        grid_request(filters={"a__channel": text_filter("web")}),
        "Invalid input: there is no column 'channel'",
    ),
    (
        "SQL in a column id",
        grid_request(sort=[("ts DESC; DROP TABLE events; --", "asc")]),
        "Invalid input: the grid named a column that does not exist",
    ),
    (
        "SQL in a filter key",
        grid_request(filters={"d__channel') OR ('1'='1": text_filter("x")}),
        "Invalid input: the grid named a column that does not exist",
    ),
    (
        "huge sort model",
        grid_request(sort=[("ts", "asc")] * 1000),
        "Invalid input: the request was refused",
    ),
    (
        "huge filter model",
        grid_request(filters={f"d__c{i}": text_filter("x") for i in range(1000)}),
        "Invalid input: the request was refused",
    ),
    (
        "huge list of conditions",
        grid_request(
            filters={
                "d__channel": {
                    "filterType": "text",
                    "operator": "OR",
                    "conditions": [text_filter("x")] * 500,
                }
            }
        ),
        "Invalid input: the request was refused",
    ),
    (
        "huge value",
        grid_request(filters={"d__channel": text_filter("x" * 100_000)}),
        "Invalid input: the request was refused",
    ),
    (
        "list as a value",
        grid_request(filters={"d__channel": text_filter(["web", "app"])}),
        "Invalid input: the request was refused",
    ),
    (
        "start row as text",
        {**grid_request(), "startRow": "0"},
        "Invalid input: the request was refused",
    ),
    (
        "negative block",
        {**grid_request(), "startRow": 9, "endRow": 3},
        "Invalid input: the grid asked for an empty block",
    ),
    (
        "number as text",
        grid_request(
            filters={"m__amount": {"filterType": "number", "type": "equals", "filter": "5"}}
        ),
        "Invalid input: the request was refused",
    ),
    (
        "text filter on a number",
        grid_request(filters={"m__amount": text_filter("5")}),
        "Invalid input: amount takes a number filter, not a text one",
    ),
    (
        "operator the column does not offer",
        grid_request(
            filters={
                "ts": {"filterType": "date", "type": "equals", "dateFrom": "2026-01-01 00:00:00"}
            }
        ),
        "Invalid input: time cannot be filtered with 'equals'",
    ),
    ("not an object", "'; DROP TABLE events; --", "Invalid input: the request was refused"),
]


@pytest.mark.parametrize(("what", "request_", "message"), FORGED, ids=[f[0] for f in FORGED])
def test_forged_sort_and_filter_models_are_refused_cleanly(
    world: World, what: str, request_: object, message: str
) -> None:
    before = event_count(world.engine)
    with world.signed_in(REGIONAL):
        response, status = rows_of(request_)
    assert response == {"rowData": [], "rowCount": 0}
    assert alert_text(status).startswith(message)
    assert event_count(world.engine) == before
    assert last_access(world.engine, world.user_ids[REGIONAL])[:2] == ("events_rows", "denied")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unit", "acme' OR '1'='1", "Not allowed: no such org unit in your scope"),
        ("kpi", 'revenue"); DELETE FROM events; --', "Invalid input: there is no KPI"),
        ("period", "1; SELECT pg_sleep(10)", "Invalid input: period must be one of"),
        ("kpi", ["revenue"], "Invalid input: a KPI must be given by its key"),
    ],
)
def test_forged_page_parameters_are_harmless(
    world: World, field: str, value: object, message: str
) -> None:
    before = event_count(world.engine)
    with world.signed_in(GLOBAL):
        response, status = rows_of(**{field: value})
    assert response["rowData"] == []
    assert alert_text(status).startswith(message)
    assert event_count(world.engine) == before


# --- through HTTP ---------------------------------------------------------------------------

OUTPUTS = [("events-grid", "getRowsResponse"), ("events-status", "children")]


def post_rows(client: FlaskClient, params: object, request: object) -> Any:
    return client.post(
        "/_dash-update-component",
        json={
            "output": "".join(f"..{i}.{p}.." for i, p in OUTPUTS).replace("....", "..."),
            "outputs": [{"id": i, "property": p} for i, p in OUTPUTS],
            "inputs": [{"id": "events-grid", "property": "getRowsRequest", "value": request}],
            "state": [{"id": "events-params", "property": "data", "value": params}],
            "changedPropIds": ["events-grid.getRowsRequest"],
        },
    )


def test_http_a_huge_block_is_capped_and_pii_stays_masked(world: World) -> None:
    params = {"kpi": "load", "unit": None, "period": "30d"}
    response = post_rows(world.client(GLOBAL), params, grid_request(size=10**9))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = response.get_json()["response"]["events-grid"]["getRowsResponse"]["rowData"]
    assert len(rows) == PAGE_MAX
    assert "@example.com" not in response.get_data(as_text=True)


def test_http_a_steward_filters_by_personal_data(world: World) -> None:
    params = {"kpi": "revenue", "unit": None, "period": "7d"}
    request = grid_request(filters={"a__email": text_filter("buyer1", "contains")})
    response = post_rows(world.client(STEWARD), params, request)
    rows = response.get_json()["response"]["events-grid"]["getRowsResponse"]["rowData"]
    assert [r["a__email"] for r in rows] == ["buyer1@example.com"]


@pytest.mark.parametrize(
    ("params", "request_"),
    [
        ({"kpi": "load", "unit": "unit3", "period": "30d"}, grid_request()),
        ({"kpi": "load", "unit": 3, "period": "30d"}, grid_request()),
        (
            {"kpi": "load", "unit": "unit2", "period": "30d"},
            grid_request(filters={"a__email": text_filter("@", "contains")}),
        ),
        (
            {"kpi": "load", "unit": "unit2", "period": "30d"},
            grid_request(sort=[("a__email", "asc")]),
        ),
        (
            {"kpi": "load", "unit": "unit2", "period": "30d"},
            grid_request(filters={"u.path": text_filter("1")}),
        ),
        ({"kpi": "load", "unit": "unit2", "period": "30d"}, {"startRow": {"$gt": 0}, "endRow": 3}),
        ({"kpi": ["load"], "period": "30d"}, grid_request()),
        ("load", grid_request()),
    ],
)
def test_http_forged_requests_from_a_regional_executive_reveal_nothing(
    world: World, params: object, request_: object
) -> None:
    response = post_rows(world.client(REGIONAL), params, request_)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    answer = response.get_json()["response"]
    assert answer["events-grid"]["getRowsResponse"] == {"rowData": [], "rowCount": 0}
    assert "unit3" not in body
    assert "Traceback" not in body
    assert "@example.com" not in body
    assert "alert" in body


def test_http_anonymous_callback_is_refused(world: World) -> None:
    response = post_rows(world.client(), {"kpi": "revenue"}, grid_request())
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"
