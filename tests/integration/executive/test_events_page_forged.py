"""The events page: personal data and forged requests, as functions and over HTTP (the world
and the grid's requests are ``events_support``'s)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from integration.executive.events_support import (
    PAGE_MAX,
    event_count,
    grid_request,
    last_access,
    rows_of,
    text_filter,
    walk,
    world,
)
from integration.executive.kpi_support import GLOBAL, REGIONAL, STEWARD, World, alert_text

__all__ = ["world"]  # fixture


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
