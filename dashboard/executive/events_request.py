"""The events grid's block requests (ag-grid's infinite row model), parsed strictly (pure).

The browser sends ``getRowsRequest``: ``startRow``, ``endRow``, ``sortModel`` and
``filterModel``. Everything in it is untrusted: shapes, types, sizes and lengths are checked
here (pydantic, strict, no unknown keys), column ids are turned into
:class:`~models.queries.executive.event_query.EventColumn`; whether a column exists for this KPI and
this user is decided by the query layer (``check_query``), which sees the contracts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from models.queries.executive.event_query import (
    FIXED_GROUPS,
    MAX_TEXT_LENGTH,
    ColumnFilter,
    ColumnGroup,
    ColumnSort,
    Condition,
    EventColumn,
    EventQuery,
    FilterOp,
    Value,
    ValueKind,
)

MAX_SORTS = 3
MAX_FILTERED_COLUMNS = 10
MAX_CONDITIONS = 2
MAX_COLUMN_ID = 70
MAX_ROW = 2**31 - 1
_PREFIXES = {"m": ColumnGroup.MEASURES, "d": ColumnGroup.DIMS, "a": ColumnGroup.ATTRS}
_PREFIX_OF = {group: prefix for prefix, group in _PREFIXES.items()}
_FIELD_ID = re.compile(r"^([mda])__([a-z][a-z0-9_]{0,62})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$")


def column_id(column: EventColumn) -> str:
    """The grid's id for a column: ``ts`` … ``unit``, or ``<m|d|a>__<field name>``.

    Flat, without dots (ag-grid reads dots in a field as nested paths).
    """
    if column.name is None:
        return column.group.value
    return f"{_PREFIX_OF[column.group]}__{column.name}"


def parse_column_id(value: object) -> EventColumn:
    """The column a grid id names; ValueError for anything that is not a well-formed id."""
    if isinstance(value, str) and len(value) <= MAX_COLUMN_ID:
        for group in FIXED_GROUPS:
            if value == group.value:
                return EventColumn(group)
        match = _FIELD_ID.match(value)
        if match:
            return EventColumn(_PREFIXES[match[1]], match[2])
    raise ValueError("the grid named a column that does not exist")


class _Strict(BaseModel):
    # ag-grid's camelCase keys, and no others.
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=to_camel, validate_by_name=False
    )


Op = Annotated[FilterOp, Field(strict=False)]
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]
Number = Annotated[float, Field(allow_inf_nan=False)]
Date = Annotated[str, Field(max_length=19)]


class TextCondition(_Strict):
    filter_type: Literal["text"]
    type: Op
    filter: Text | None = None


class NumberCondition(_Strict):
    filter_type: Literal["number"]
    type: Op
    filter: Number | None = None
    filter_to: Number | None = None


class DateCondition(_Strict):
    filter_type: Literal["date"]
    type: Op
    date_from: Date | None = None
    date_to: Date | None = None


AnyCondition = Annotated[
    TextCondition | NumberCondition | DateCondition, Field(discriminator="filter_type")
]


class CombinedFilter(_Strict):
    filter_type: Literal["text", "number", "date"]
    operator: Literal["AND", "OR"]
    conditions: Annotated[list[AnyCondition], Field(min_length=1, max_length=MAX_CONDITIONS)]


class SortItem(_Strict):
    col_id: Annotated[str, Field(max_length=MAX_COLUMN_ID)]
    sort: Literal["asc", "desc"]
    type: Literal["default"] = "default"  # ag-grid 35's ordinary sort ("absolute" is not)


class RowsRequest(_Strict):
    start_row: Annotated[int, Field(ge=0, le=MAX_ROW)]
    end_row: Annotated[int, Field(ge=1, le=MAX_ROW)]
    sort_model: Annotated[list[SortItem], Field(max_length=MAX_SORTS)] = []
    filter_model: Annotated[dict[str, Any], Field(max_length=MAX_FILTERED_COLUMNS)] = {}
    # The grid's context and api ride along (the api as {}: its methods do not serialise).
    context: Any = None
    api: Any = None


_CONDITION = TypeAdapter(AnyCondition)


@dataclass(frozen=True, slots=True)
class GridRequest:
    """One block the grid asks for: rows ``start_row`` to ``start_row + page_size``."""

    start_row: int
    page_size: int
    query: EventQuery


def parse_date(value: str | None) -> dt.datetime | None:
    """``YYYY-MM-DD[ HH:MM[:SS]]`` (what ag-grid's date filter sends) as a UTC moment."""
    if value is None:
        return None
    if not _DATE.match(value):
        raise ValueError("a date filter needs dates as YYYY-MM-DD HH:MM:SS")
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    except ValueError:
        raise ValueError(f"{value!r} is not a date") from None


def _condition(model: TextCondition | NumberCondition | DateCondition) -> Condition:
    value: Value | None
    value_to: Value | None
    if isinstance(model, TextCondition):
        kind, value, value_to = ValueKind.TEXT, model.filter, None
    elif isinstance(model, NumberCondition):
        kind, value, value_to = ValueKind.NUMBER, model.filter, model.filter_to
        value = None if value is None else float(value)
        value_to = None if value_to is None else float(value_to)
    else:
        kind = ValueKind.TIME
        value, value_to = parse_date(model.date_from), parse_date(model.date_to)
    if model.type is not FilterOp.IN_RANGE:
        value_to = None  # ag-grid may send a stale "to" value with a one-sided operator
    return Condition(model.type, kind, value, value_to)


def parse_filter(column: EventColumn, model: object) -> ColumnFilter:
    """One column's entry of ag-grid's filter model (a condition or two combined)."""
    if isinstance(model, dict) and "conditions" in model:
        combined = CombinedFilter.model_validate(model)
        conditions = tuple(_condition(c) for c in combined.conditions)
        if any(c.kind.value != combined.filter_type for c in conditions):
            raise ValueError("the conditions of one filter must be of one type")
        return ColumnFilter(column, conditions, any_of=combined.operator == "OR")
    return ColumnFilter(column, (_condition(_CONDITION.validate_python(model)),))


def parse_rows_request(value: object) -> GridRequest:
    """The grid's ``getRowsRequest`` as a typed request; ValueError (or pydantic's) otherwise."""
    request = RowsRequest.model_validate(value)
    if request.end_row <= request.start_row:
        raise ValueError("the grid asked for an empty block of rows")
    sort = tuple(
        ColumnSort(parse_column_id(item.col_id), item.sort == "desc") for item in request.sort_model
    )
    if len({s.column for s in sort}) != len(sort):
        raise ValueError("a column can be sorted by only once")
    filters = tuple(
        parse_filter(parse_column_id(key), model) for key, model in request.filter_model.items()
    )
    return GridRequest(
        request.start_row, request.end_row - request.start_row, EventQuery(filters, sort)
    )
