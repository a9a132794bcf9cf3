"""The events page: scoped, capped, masked blocks of raw events; the grid's columns, filters
and sorting (the world and the grid's requests are ``events_support``'s)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dash import no_update

from integration.executive.events_support import (
    BY_AMOUNT,
    IN_UNIT2,
    PAGE_MAX,
    VIEWER,
    event_count,
    grid_request,
    grid_time,
    ids,
    last_access,
    number_filter,
    rows_of,
    text_filter,
    tight_world,
    walk,
    world,
)
from integration.executive.kpi_support import GLOBAL, NOW, REGIONAL, STEWARD, World, alert_text
from models.queries.masking import MASK

__all__ = ["tight_world", "world"]  # fixtures


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
