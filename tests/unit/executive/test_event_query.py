"""What a user may filter and sort events by, and the SQL it becomes (no database needed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from models.contracts import Contract
from models.permissions import AccessDenied, Permission, Principal
from models.queries.executive.event_block import compile_query
from models.queries.executive.event_query import (
    ColumnFilter,
    ColumnGroup,
    ColumnSort,
    Condition,
    EventColumn,
    EventQuery,
    FilterOp,
    ValueKind,
    check_query,
    field_catalog,
)

ORDERS, SESSIONS = 1, 2
_KEYS: list[dict[str, Any]] = [
    {"name": "id", "type": "string", "role": "event_id"},
    {"name": "ts", "type": "timestamp", "role": "timestamp"},
    {"name": "unit", "type": "string", "role": "org_unit"},
]
CONTRACTS = {
    ORDERS: Contract.from_row(
        1,
        [
            *_KEYS,
            {"name": "amount", "type": "float", "role": "measure"},
            {"name": "channel", "type": "string", "role": "dimension"},
            {"name": "items", "type": "int", "role": "dimension"},
            {"name": "email", "type": "string", "role": "attribute", "classification": "pii"},
            {
                "name": "margin",
                "type": "float",
                "role": "attribute",
                "classification": "confidential",
            },
        ],
    ),
    SESSIONS: Contract.from_row(
        1,
        [
            *_KEYS,
            {"name": "channel", "type": "string", "role": "dimension"},
            {"name": "items", "type": "string", "role": "dimension"},
            {"name": "device", "type": "string", "role": "dimension", "classification": "pii"},
        ],
    ),
}
EXECUTIVE = Principal(1, frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW}), ("1",))
STEWARD = Principal(
    2, frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW, Permission.PII_VIEW}), ("1",)
)
VIEWER = Principal(3, frozenset({Permission.KPI_VIEW}), ("1",))

AMOUNT = EventColumn(ColumnGroup.MEASURES, "amount")
CHANNEL = EventColumn(ColumnGroup.DIMS, "channel")
ITEMS = EventColumn(ColumnGroup.DIMS, "items")
EMAIL = EventColumn(ColumnGroup.ATTRS, "email")
MARGIN = EventColumn(ColumnGroup.ATTRS, "margin")
DEVICE = EventColumn(ColumnGroup.DIMS, "device")
TS = EventColumn(ColumnGroup.TS)


def test_the_catalog_follows_the_contracts_and_the_permissions() -> None:
    executive = field_catalog(CONTRACTS, EXECUTIVE)
    assert list(executive)[:4] == [
        TS,
        EventColumn(ColumnGroup.SOURCE),
        EventColumn(ColumnGroup.EVENT_ID),
        EventColumn(ColumnGroup.UNIT),
    ]
    assert executive[CHANNEL].sources == {ORDERS, SESSIONS}
    assert executive[AMOUNT].kind is ValueKind.NUMBER
    assert executive[ITEMS].kind is ValueKind.TEXT  # numeric in one source, text in the other
    assert executive[EMAIL].masked
    assert executive[DEVICE].masked
    assert not executive[MARGIN].masked
    steward = field_catalog(CONTRACTS, STEWARD)
    assert not steward[EMAIL].masked
    assert not steward[DEVICE].masked
    viewer = field_catalog(CONTRACTS, VIEWER)
    assert MARGIN not in viewer  # confidential without event:view: not even the column
    assert viewer[EMAIL].masked


def test_a_field_masked_in_one_source_is_masked_for_all() -> None:
    pii_channel = Contract.from_row(
        2,
        [
            *_KEYS,
            {"name": "channel", "type": "string", "role": "dimension", "classification": "pii"},
        ],
    )
    catalog = field_catalog({ORDERS: CONTRACTS[ORDERS], SESSIONS: pii_channel}, EXECUTIVE)
    assert catalog[CHANNEL].masked
    with pytest.raises(AccessDenied, match="channel is masked for you"):
        check_query(EventQuery(sort=(ColumnSort(CHANNEL, False),)), catalog)


def _filter(column: EventColumn, op: FilterOp, kind: ValueKind, value: Any = None) -> EventQuery:
    return EventQuery(filters=(ColumnFilter(column, (Condition(op, kind, value),)),))


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        (_filter(EMAIL, FilterOp.EQUALS, ValueKind.TEXT, "a@b.c"), AccessDenied, "needs pii:view"),
        (EventQuery(sort=(ColumnSort(EMAIL, True),)), AccessDenied, "email is masked"),
        (
            _filter(EventColumn(ColumnGroup.DIMS, "nope"), FilterOp.EQUALS, ValueKind.TEXT, "x"),
            ValueError,
            "no column 'nope'",
        ),
        (
            # A field of another role is another column: channel is not an attribute.
            _filter(EventColumn(ColumnGroup.ATTRS, "channel"), FilterOp.BLANK, ValueKind.TEXT),
            ValueError,
            "no column 'channel'",
        ),
        (_filter(AMOUNT, FilterOp.CONTAINS, ValueKind.TEXT, "1"), ValueError, "takes a number"),
        (_filter(CHANNEL, FilterOp.LESS_THAN, ValueKind.NUMBER, 1.0), ValueError, "takes a text"),
        (
            _filter(TS, FilterOp.EQUALS, ValueKind.TIME, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
            ValueError,
            "cannot be filtered with 'equals'",
        ),
    ],
)
def test_check_query_refuses_what_the_catalog_does_not_offer(
    query: EventQuery, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_query(query, field_catalog(CONTRACTS, EXECUTIVE))


@pytest.mark.parametrize(
    ("op", "kind", "value", "value_to"),
    [
        (FilterOp.EQUALS, ValueKind.TEXT, None, None),
        (FilterOp.EQUALS, ValueKind.TEXT, "x" * 201, None),
        (FilterOp.EQUALS, ValueKind.TEXT, 5.0, None),
        (FilterOp.BLANK, ValueKind.TEXT, "x", None),
        (FilterOp.IN_RANGE, ValueKind.NUMBER, 1.0, None),
        (FilterOp.LESS_THAN, ValueKind.NUMBER, float("inf"), None),
        (FilterOp.LESS_THAN, ValueKind.NUMBER, 1.0, 2.0),
        (FilterOp.GREATER_THAN, ValueKind.TIME, dt.datetime(2026, 1, 1), None),  # naive
    ],
)
def test_conditions_refuse_missing_extra_or_mistyped_values(
    op: FilterOp, kind: ValueKind, value: Any, value_to: Any
) -> None:
    with pytest.raises(ValueError, match=r"takes no|needs a valid"):
        Condition(op, kind, value, value_to)


HOSTILE = "web'; DROP TABLE events; --"


def test_user_values_and_field_names_reach_sql_only_as_parameters() -> None:
    catalog = field_catalog(CONTRACTS, STEWARD)
    query = EventQuery(
        filters=(
            ColumnFilter(
                CHANNEL,
                (
                    Condition(FilterOp.CONTAINS, ValueKind.TEXT, HOSTILE),
                    Condition(FilterOp.NOT_EQUAL, ValueKind.TEXT, "100%_off\\"),
                ),
                any_of=True,
            ),
            ColumnFilter(AMOUNT, (Condition(FilterOp.IN_RANGE, ValueKind.NUMBER, 1.0, 2.5),)),
        ),
        sort=(ColumnSort(EMAIL, descending=True), ColumnSort(AMOUNT, descending=False)),
    )
    compiled = compile_query(query, catalog)
    sql = compiled.filters + compiled.order
    for text in ("DROP", "off", "channel", "email", "amount", "2.5"):
        assert text not in sql
    values = list(compiled.params.values())
    assert f"%{HOSTILE}%" in values
    assert "100\\%\\_off\\\\" in values  # LIKE wildcards in the value match only themselves
    assert {"channel", "email", "amount", 1.0, 2.5} <= {
        v for v in values if isinstance(v, str | float)
    }
    assert " OR " in compiled.filters
    # Fields apply only to the sources that declare them; empty values sort last.
    assert [ORDERS, SESSIONS] in values
    assert [ORDERS] in values
    assert compiled.order.count("NULLS LAST") == 2
    assert compiled.order.endswith("e.ts DESC, e.source_id DESC, e.event_id DESC")


def test_sorting_by_time_sets_the_direction_of_the_tie_breakers() -> None:
    catalog = field_catalog(CONTRACTS, EXECUTIVE)
    oldest = compile_query(EventQuery(sort=(ColumnSort(TS, descending=False),)), catalog)
    assert oldest.order == "e.ts ASC NULLS LAST, e.source_id ASC, e.event_id ASC"
    default = compile_query(EventQuery(), catalog)
    assert default.order == "e.ts DESC, e.source_id DESC, e.event_id DESC"
    assert default.filters == ""
    assert default.params == {}
