"""The events grid: dash-ag-grid's infinite row model, columns and rows of raw events (pure).

The grid sorts and filters nothing itself: every header sort and column filter goes to the
server in ``getRowsRequest`` (see ``events_request``), and the server answers one block of
rows at a time in ``getRowsResponse``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dash_ag_grid as dag  # type: ignore[import-untyped]

from dashboard.executive.events_request import MAX_CONDITIONS, column_id
from models.queries.executive.event_query import (
    FIXED_FIELDS,
    OPERATORS,
    ColumnGroup,
    EventColumn,
    EventField,
    ValueKind,
)
from models.queries.executive.events import RawEvent

DEFAULT_BLOCK = 100
PAGE_SIZES = (10, 25, 50, 100)
_HEADERS = {
    ColumnGroup.TS: "Time (UTC)",
    ColumnGroup.SOURCE: "Source",
    ColumnGroup.EVENT_ID: "Event id",
    ColumnGroup.UNIT: "Unit",
}
_FILTERS = {
    ValueKind.TEXT: "agTextColumnFilter",
    ValueKind.NUMBER: "agNumberColumnFilter",
    ValueKind.TIME: "agDateColumnFilter",
}
_GROUPS = (
    ("measures", ColumnGroup.MEASURES),
    ("dims", ColumnGroup.DIMS),
    ("attrs", ColumnGroup.ATTRS),
)


def grid_rows(events: Sequence[RawEvent]) -> list[dict[str, Any]]:
    """One flat row per event; measures, dimensions and attributes as prefixed columns."""
    rows = []
    for event in events:
        row: dict[str, Any] = {
            "ts": event.ts.isoformat(timespec="milliseconds"),
            "source": event.source_key,
            "event_id": event.event_id,
            "unit": event.org_unit_key,
        }
        for attribute, group in _GROUPS:
            values: dict[str, Any] = getattr(event, attribute)
            for name, value in values.items():
                row[column_id(EventColumn(group, name))] = value
        rows.append(row)
    return rows


def _filter_params(kind: ValueKind) -> dict[str, Any]:
    params: dict[str, Any] = {
        "filterOptions": [op.value for op in OPERATORS[kind]],
        "maxNumConditions": MAX_CONDITIONS,
        # One request when the user is done, not one per keystroke.
        "buttons": ["apply", "reset"],
        "closeOnApply": True,
    }
    if kind is ValueKind.NUMBER:
        params["inRangeInclusive"] = True
    if kind is ValueKind.TIME:
        params["includeTime"] = True
    return params


def column_def(field: EventField) -> dict[str, Any]:
    """A column; masked ones can be neither sorted nor filtered (the server refuses too)."""
    column = field.column
    header = _HEADERS.get(column.group, column.label)
    definition: dict[str, Any] = {"field": column_id(column), "headerName": header}
    if field.masked:
        definition.update(
            headerName=f"{header} (masked)",
            sortable=False,
            filter=False,
            headerTooltip="Personal data: sorting and filtering need pii:view",
        )
    else:
        definition.update(
            sortable=True,
            filter=_FILTERS[field.kind],
            filterParams=_filter_params(field.kind),
        )
    if field.kind is ValueKind.NUMBER:
        definition["type"] = "numericColumn"
    if column.group is ColumnGroup.TS:
        definition.update(pinned="left", minWidth=240, sort="desc")
    return definition


def grid_columns(fields: Iterable[EventField] = FIXED_FIELDS) -> list[dict[str, Any]]:
    """One column per field of the catalog, in its order (fixed columns first)."""
    return [column_def(f) for f in fields]


def page_sizes(block_size: int) -> list[int]:
    """Page sizes up to one block: a larger page would need several blocks at once, which
    dash-ag-grid's single pending ``getRowsRequest`` cannot serve."""
    return sorted({block_size, *(s for s in PAGE_SIZES if s < block_size)})


def events_grid(component_id: str, block_size: int) -> dag.AgGrid:
    """The grid: fixed columns until the catalog arrives, blocks of ``block_size`` rows.

    The block size is the page size, and never more than the server's page maximum (a
    shorter block than asked would read as the last one).
    """
    return dag.AgGrid(
        id=component_id,
        rowModelType="infinite",
        columnDefs=grid_columns(),
        defaultColDef={"resizable": True, "minWidth": 110},
        columnSize="autoSize",
        dashGridOptions={
            "pagination": True,
            "paginationPageSize": block_size,
            "paginationPageSizeSelector": page_sizes(block_size),
            "cacheBlockSize": block_size,
            "maxBlocksInCache": 10,
            # dash-ag-grid serves one getRowsRequest at a time: never ask for two blocks at once.
            "maxConcurrentDatasourceRequests": 1,
            "infiniteInitialRowCount": 1,
            "suppressFieldDotNotation": True,
        },
        style={"width": "100%", "height": "640px"},
    )
