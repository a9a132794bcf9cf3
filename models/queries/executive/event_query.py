"""What the events drill-down may filter and sort by: typed requests and the per-user catalog.

A request (:class:`EventQuery`) names columns as :class:`EventColumn`; :func:`field_catalog`
says, from the current contracts of the KPI's sources and the principal's permissions, which
columns exist, of what kind, and for which sources their values are readable. Only columns in
the catalog may be filtered or sorted, and only by the operators of their kind
(:func:`check_query`); the query layer builds SQL from these types alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from models.contracts import Contract, FieldRole, FieldType
from models.enums import Classification
from models.permissions import AccessDenied, Permission, Principal


class ColumnGroup(StrEnum):
    """Where a column's value lives: a fixed column, or a key of a jsonb document."""

    TS = "ts"
    SOURCE = "source"
    EVENT_ID = "event_id"
    UNIT = "unit"
    MEASURES = "measures"
    DIMS = "dims"
    ATTRS = "attrs"


FIXED_GROUPS = (ColumnGroup.TS, ColumnGroup.SOURCE, ColumnGroup.EVENT_ID, ColumnGroup.UNIT)
_ROLE_GROUPS = {
    FieldRole.MEASURE: ColumnGroup.MEASURES,
    FieldRole.DIMENSION: ColumnGroup.DIMS,
    FieldRole.ATTRIBUTE: ColumnGroup.ATTRS,
}


class ValueKind(StrEnum):
    TIME = "date"
    TEXT = "text"
    NUMBER = "number"


class FilterOp(StrEnum):
    """ag-grid's names for the simple filters' operators."""

    EQUALS = "equals"
    NOT_EQUAL = "notEqual"
    CONTAINS = "contains"
    NOT_CONTAINS = "notContains"
    STARTS_WITH = "startsWith"
    ENDS_WITH = "endsWith"
    LESS_THAN = "lessThan"
    LESS_THAN_OR_EQUAL = "lessThanOrEqual"
    GREATER_THAN = "greaterThan"
    GREATER_THAN_OR_EQUAL = "greaterThanOrEqual"
    IN_RANGE = "inRange"
    BLANK = "blank"
    NOT_BLANK = "notBlank"


_O = FilterOp
OPERATORS: Mapping[ValueKind, tuple[FilterOp, ...]] = {
    ValueKind.TEXT: (
        *(_O.CONTAINS, _O.NOT_CONTAINS, _O.EQUALS, _O.NOT_EQUAL),
        *(_O.STARTS_WITH, _O.ENDS_WITH, _O.BLANK, _O.NOT_BLANK),
    ),
    ValueKind.NUMBER: (
        *(_O.EQUALS, _O.NOT_EQUAL, _O.LESS_THAN, _O.LESS_THAN_OR_EQUAL, _O.GREATER_THAN),
        *(_O.GREATER_THAN_OR_EQUAL, _O.IN_RANGE, _O.BLANK, _O.NOT_BLANK),
    ),
    # Before, after, between: a picked moment to the second is too fine to be "equal" to.
    ValueKind.TIME: (_O.GREATER_THAN, _O.LESS_THAN, _O.IN_RANGE),
}
"""The operators each kind of column offers (the grid's ``filterOptions``, in this order)."""
VALUELESS = frozenset({FilterOp.BLANK, FilterOp.NOT_BLANK})

Value = str | float | dt.datetime
MAX_TEXT_LENGTH = 200
"""The longest text a filter may compare with."""


@dataclass(frozen=True, slots=True)
class EventColumn:
    """A fixed column (``name`` None) or a named measure, dimension or attribute."""

    group: ColumnGroup
    name: str | None = None

    def __post_init__(self) -> None:
        if (self.group in FIXED_GROUPS) != (self.name is None):
            raise ValueError("a fixed column has no name; a field column needs one")

    @property
    def label(self) -> str:
        """How messages name the column: the field's name, or ``time``, ``event id`` …"""
        if self.name is not None:
            return self.name
        return "time" if self.group is ColumnGroup.TS else self.group.value.replace("_", " ")


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of a column filter; ``value_to`` only (and always) for ``inRange``.

    Raises:
        ValueError: a value missing, superfluous, of the wrong type or too long for ``kind``.
    """

    op: FilterOp
    kind: ValueKind
    value: Value | None = None
    value_to: Value | None = None

    def __post_init__(self) -> None:
        wanted = {"value"} - ({"value"} if self.op in VALUELESS else set())
        wanted |= {"value_to"} if self.op is FilterOp.IN_RANGE else set()
        for name in ("value", "value_to"):
            value = getattr(self, name)
            if name not in wanted:
                if value is not None:
                    raise ValueError(f"{self.op.value!r} takes no {name.replace('_', ' ')}")
            elif not _fits(self.kind, value):
                raise ValueError(f"{self.op.value!r} needs a valid {self.kind.value} value")


def _fits(kind: ValueKind, value: object) -> bool:
    if kind is ValueKind.TEXT:
        return isinstance(value, str) and 0 < len(value) <= MAX_TEXT_LENGTH
    if kind is ValueKind.NUMBER:
        return isinstance(value, float) and math.isfinite(value)
    return isinstance(value, dt.datetime) and value.tzinfo is not None


@dataclass(frozen=True, slots=True)
class ColumnFilter:
    """A column's conditions, joined by AND (``any_of`` False) or OR."""

    column: EventColumn
    conditions: tuple[Condition, ...]
    any_of: bool = False


@dataclass(frozen=True, slots=True)
class ColumnSort:
    column: EventColumn
    descending: bool


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters (all must hold) and the sort order (the first entry sorts first)."""

    filters: tuple[ColumnFilter, ...] = ()
    sort: tuple[ColumnSort, ...] = ()


@dataclass(frozen=True, slots=True)
class EventField:
    """A column the principal may see: its kind and whether they may filter or sort by it.

    ``sources`` are the sources whose current contract declares the field (for a fixed column:
    empty, meaning every source); a predicate on the field applies to those sources' events
    only. ``masked`` fields (``pii`` without ``pii:view`` in any declaring source) are shown
    as ``•••`` and can be neither filtered nor sorted: a filter would reveal their values.
    """

    column: EventColumn
    kind: ValueKind
    sources: frozenset[int] = field(default_factory=frozenset)
    masked: bool = False


FIXED_FIELDS: tuple[EventField, ...] = (
    EventField(EventColumn(ColumnGroup.TS), ValueKind.TIME),
    EventField(EventColumn(ColumnGroup.SOURCE), ValueKind.TEXT),
    EventField(EventColumn(ColumnGroup.EVENT_ID), ValueKind.TEXT),
    EventField(EventColumn(ColumnGroup.UNIT), ValueKind.TEXT),
)
_NUMERIC = frozenset({FieldType.INT, FieldType.FLOAT})


def _readable(classification: Classification, principal: Principal) -> bool | None:
    """True readable, False masked, None hidden: the rule of :func:`visible_attrs`."""
    may_see_confidential = principal.has(Permission.EVENT_VIEW)
    if classification is Classification.CONFIDENTIAL:
        return True if may_see_confidential else None
    if classification is Classification.PII:
        return may_see_confidential and principal.has(Permission.PII_VIEW)
    return True


def field_catalog(
    contracts: Mapping[int, Contract], principal: Principal
) -> dict[EventColumn, EventField]:
    """Every column the principal may see for these sources, fixed columns first.

    A field declared by several sources is numeric only if every one declares it numeric, and
    masked if any one masks it; confidential fields the principal may not see are left out.
    """
    declared: dict[EventColumn, list[tuple[int, FieldType, bool | None]]] = {}
    for source_id, contract in sorted(contracts.items()):
        for spec in contract.fields:
            group = _ROLE_GROUPS.get(spec.role)
            if group is None:
                continue
            readable = _readable(spec.classification, principal)
            declared.setdefault(EventColumn(group, spec.name), []).append(
                (source_id, spec.type, readable)
            )
    catalog = {f.column: f for f in FIXED_FIELDS}
    for column in sorted(declared, key=lambda c: (c.group.value, c.label)):
        entries = [e for e in declared[column] if e[2] is not None]
        if not entries:
            continue
        numeric = all(kind in _NUMERIC for _, kind, _ in entries)
        catalog[column] = EventField(
            column,
            ValueKind.NUMBER if numeric else ValueKind.TEXT,
            frozenset(source for source, _, _ in entries),
            masked=not all(readable for _, _, readable in entries),
        )
    return catalog


def _queryable(catalog: Mapping[EventColumn, EventField], column: EventColumn) -> EventField:
    found = catalog.get(column)
    if found is None:
        raise ValueError(f"there is no column {column.label!r} to filter or sort by")
    if found.masked:
        raise AccessDenied(
            f"{column.label} is masked for you; filtering or sorting by it needs pii:view"
        )
    return found


def check_query(query: EventQuery, catalog: Mapping[EventColumn, EventField]) -> None:
    """Refuse columns outside the catalog, masked columns and operators of the wrong kind.

    Raises:
        ValueError: an unknown column, or an operator or value its kind does not take.
        AccessDenied: a masked (``pii``) column without ``pii:view``.
    """
    for sort in query.sort:
        _queryable(catalog, sort.column)
    for column_filter in query.filters:
        found = _queryable(catalog, column_filter.column)
        for condition in column_filter.conditions:
            if condition.kind is not found.kind:
                raise ValueError(
                    f"{column_filter.column.label} takes a {found.kind.value} filter, "
                    f"not a {condition.kind.value} one"
                )
            if condition.op not in OPERATORS[found.kind]:
                raise ValueError(
                    f"{column_filter.column.label} cannot be filtered with {condition.op.value!r}"
                )
