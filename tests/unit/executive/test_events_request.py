"""Parsing the events grid's block requests: what ag-grid sends is accepted, nothing else."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pydantic
import pytest

from dashboard.executive.events_request import (
    MAX_CONDITIONS,
    MAX_FILTERED_COLUMNS,
    MAX_SORTS,
    column_id,
    parse_column_id,
    parse_date,
    parse_rows_request,
)
from models.queries.executive.event_query import (
    ColumnGroup,
    ColumnSort,
    Condition,
    EventColumn,
    FilterOp,
    ValueKind,
)

AMOUNT = EventColumn(ColumnGroup.MEASURES, "amount")
CHANNEL = EventColumn(ColumnGroup.DIMS, "channel")
TS = EventColumn(ColumnGroup.TS)


def request(**parts: Any) -> dict[str, Any]:
    """A block request as dash-ag-grid 35 posts it (captured from the browser)."""
    body: dict[str, Any] = {
        "startRow": 0,
        "endRow": 100,
        "sortModel": [{"sort": "desc", "type": "default", "colId": "ts"}],
        "filterModel": {},
        "api": {},
    }
    body.update(parts)
    return body


def test_the_grids_own_request_parses() -> None:
    parsed = parse_rows_request(request())
    assert (parsed.start_row, parsed.page_size) == (0, 100)
    assert parsed.query.sort == (ColumnSort(TS, descending=True),)
    assert parsed.query.filters == ()


def test_text_number_and_date_filters_become_typed_conditions() -> None:
    parsed = parse_rows_request(
        request(
            startRow=200,
            endRow=300,
            sortModel=[
                {"colId": "m__amount", "sort": "asc"},
                {"colId": "d__channel", "sort": "desc"},
            ],
            filterModel={
                "d__channel": {"filterType": "text", "type": "contains", "filter": "we"},
                "m__amount": {
                    "filterType": "number",
                    "operator": "OR",
                    "conditions": [
                        {"filterType": "number", "type": "lessThan", "filter": 5},
                        {"filterType": "number", "type": "inRange", "filter": 10, "filterTo": 20.5},
                    ],
                },
                "ts": {
                    "filterType": "date",
                    "type": "inRange",
                    "dateFrom": "2026-01-02 03:04:05",
                    "dateTo": "2026-01-03 00:00:00",
                },
            },
        )
    )
    assert (parsed.start_row, parsed.page_size) == (200, 100)
    assert [s.column for s in parsed.query.sort] == [AMOUNT, CHANNEL]
    channel, amount, ts = parsed.query.filters
    assert channel.conditions == (Condition(FilterOp.CONTAINS, ValueKind.TEXT, "we"),)
    assert amount.any_of
    assert amount.conditions[1] == Condition(FilterOp.IN_RANGE, ValueKind.NUMBER, 10.0, 20.5)
    assert ts.conditions[0].value == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_a_stale_to_value_of_a_one_sided_operator_is_dropped() -> None:
    parsed = parse_rows_request(
        request(
            filterModel={
                "m__amount": {
                    "filterType": "number",
                    "type": "greaterThan",
                    "filter": 1,
                    "filterTo": 9,
                }
            }
        )
    )
    assert parsed.query.filters[0].conditions[0].value_to is None


@pytest.mark.parametrize(
    "column",
    [TS, EventColumn(ColumnGroup.UNIT), AMOUNT, CHANNEL, EventColumn(ColumnGroup.ATTRS, "email")],
)
def test_column_ids_round_trip(column: EventColumn) -> None:
    assert parse_column_id(column_id(column)) == column


@pytest.mark.parametrize(
    "value",
    [
        "d__Channel",
        "d__channel; DROP TABLE events",
        "x__channel",
        "d.channel",
        "d__",
        "measures",
        "m__" + "a" * 80,
        "e.ts",
        None,
        7,
        ["ts"],
    ],
)
def test_anything_but_a_well_formed_column_id_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        parse_column_id(value)


def test_dates_are_read_as_utc_moments() -> None:
    assert parse_date("2026-03-01") == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert parse_date("2026-03-01 12:30") == dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    for bad in ("2026-02-30 00:00:00", "01/03/2026", "2026-03-01T12:30:00+05:00", "now()"):
        with pytest.raises(ValueError, match="date"):
            parse_date(bad)


def _text(value: object, op: str = "equals") -> dict[str, Any]:
    return {"d__channel": {"filterType": "text", "type": op, "filter": value}}


FORGED: list[tuple[str, dict[str, Any]]] = [
    ("no body", {}),
    ("start row as text", request(startRow="0")),
    ("negative start", request(startRow=-1)),
    ("empty block", request(startRow=5, endRow=5)),
    ("backwards block", request(startRow=50, endRow=10)),
    ("huge row number", request(endRow=2**63)),
    ("unknown top-level key", request(sql="SELECT 1")),
    ("sort model not a list", request(sortModel={"colId": "ts"})),
    ("unknown sort direction", request(sortModel=[{"colId": "ts", "sort": "sideways"}])),
    ("absolute sort", request(sortModel=[{"colId": "ts", "sort": "asc", "type": "absolute"}])),
    ("too many sorts", request(sortModel=[{"colId": "ts", "sort": "asc"}] * (MAX_SORTS + 1))),
    (
        "one column sorted twice",
        request(sortModel=[{"colId": "ts", "sort": "asc"}, {"colId": "ts", "sort": "desc"}]),
    ),
    ("sort by a forged column", request(sortModel=[{"colId": "ts DESC; --", "sort": "asc"}])),
    (
        "too many filtered columns",
        request(
            filterModel={
                f"d__c{i}": {"filterType": "text", "type": "equals", "filter": "x"}
                for i in range(MAX_FILTERED_COLUMNS + 1)
            }
        ),
    ),
    ("filter on a forged column", request(filterModel={"1=1 OR d__x": _text("x")["d__channel"]})),
    ("unknown operator", request(filterModel=_text("x", "regex"))),
    ("text value too long", request(filterModel=_text("x" * 201))),
    ("text value as a list", request(filterModel=_text(["web", "app"]))),
    ("text value as an object", request(filterModel=_text({"$ne": ""}))),
    ("missing text value", request(filterModel=_text(None))),
    ("empty text value", request(filterModel=_text(""))),
    ("value with a blank operator", request(filterModel=_text("x", "blank"))),
    (
        "number as text",
        request(
            filterModel={"m__amount": {"filterType": "number", "type": "equals", "filter": "5"}}
        ),
    ),
    (
        "number as a boolean",
        request(
            filterModel={"m__amount": {"filterType": "number", "type": "equals", "filter": True}}
        ),
    ),
    (
        "not a number",
        request(
            filterModel={
                "m__amount": {"filterType": "number", "type": "equals", "filter": float("nan")}
            }
        ),
    ),
    (
        "range without an end",
        request(
            filterModel={"m__amount": {"filterType": "number", "type": "inRange", "filter": 1}}
        ),
    ),
    (
        "date in another format",
        request(
            filterModel={
                "ts": {"filterType": "date", "type": "greaterThan", "dateFrom": "yesterday"}
            }
        ),
    ),
    (
        "unknown key in a condition",
        request(
            filterModel={
                "d__channel": {"filterType": "text", "type": "equals", "filter": "x", "sql": "1"}
            }
        ),
    ),
    (
        "unknown filter type",
        request(filterModel={"d__channel": {"filterType": "set", "values": ["web"]}}),
    ),
    (
        "too many conditions",
        request(
            filterModel={
                "d__channel": {
                    "filterType": "text",
                    "operator": "OR",
                    "conditions": [_text("x")["d__channel"]] * (MAX_CONDITIONS + 1),
                }
            }
        ),
    ),
    (
        "mixed condition types",
        request(
            filterModel={
                "d__channel": {
                    "filterType": "text",
                    "operator": "AND",
                    "conditions": [
                        _text("x")["d__channel"],
                        {"filterType": "number", "type": "equals", "filter": 1},
                    ],
                }
            }
        ),
    ),
    (
        "unknown join",
        request(
            filterModel={
                "d__channel": {
                    "filterType": "text",
                    "operator": "XOR",
                    "conditions": [_text("x")["d__channel"]],
                }
            }
        ),
    ),
]


@pytest.mark.parametrize(("what", "body"), FORGED, ids=[f[0] for f in FORGED])
def test_forged_requests_are_refused_as_bad_input(what: str, body: dict[str, Any]) -> None:
    # pydantic's ValidationError is a ValueError: guarded_callback shows both as bad input.
    with pytest.raises((ValueError, pydantic.ValidationError)):
        parse_rows_request(body)


@pytest.mark.parametrize("value", [None, "request", 42, [], [{"startRow": 0}]])
def test_a_request_that_is_not_an_object_is_refused(value: object) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_rows_request(value)
