"""The events grid: dash-ag-grid columns and rows built from a page of raw events (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag  # type: ignore[import-untyped]

from models.queries.events import RawEvent

FIXED_COLUMNS: list[dict[str, Any]] = [
    {"field": "ts", "headerName": "Time (UTC)", "pinned": "left", "minWidth": 210},
    {"field": "source", "headerName": "Source"},
    {"field": "event_id", "headerName": "Event id"},
    {"field": "unit", "headerName": "Unit"},
]
PAGE_SIZES = (25, 50, 100, 250, 500)
_GROUPS = (("measures", "m"), ("dims", "d"), ("attrs", "a"))


def _column_id(prefix: str, name: str) -> str:
    # ag-grid reads dots in a field as nested paths: keep field ids flat.
    return f"{prefix}__{name}"


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
        for attribute, prefix in _GROUPS:
            values: dict[str, Any] = getattr(event, attribute)
            for name, value in values.items():
                row[_column_id(prefix, name)] = value
        rows.append(row)
    return rows


def grid_columns(events: Sequence[RawEvent]) -> list[dict[str, Any]]:
    """The fixed columns, then every measure, dimension and attribute present, by name."""
    columns = [dict(c) for c in FIXED_COLUMNS]
    for attribute, prefix in _GROUPS:
        names = sorted({name for e in events for name in getattr(e, attribute)})
        numeric = attribute == "measures"
        columns += [
            {
                "field": _column_id(prefix, name),
                "headerName": name,
                **({"type": "numericColumn"} if numeric else {}),
            }
            for name in names
        ]
    return columns


def events_grid(component_id: str) -> dag.AgGrid:
    """An empty grid; a callback fills ``rowData`` and ``columnDefs`` one page at a time.

    Sorting and paging are server-side (the page's controls), so the grid's own sorting is off.
    """
    return dag.AgGrid(
        id=component_id,
        rowData=[],
        columnDefs=[dict(c) for c in FIXED_COLUMNS],
        defaultColDef={"sortable": False, "resizable": True, "filter": False, "minWidth": 110},
        columnSize="autoSize",
        dashGridOptions={"domLayout": "autoHeight", "suppressFieldDotNotation": True},
        style={"width": "100%"},
    )
