"""The target plan grid's pieces (pure): ids, the dash-ag-grid columns and rows, the grid read
back into plan specs (every refusal naming its row and column), and the changes shown.

Columns ``p0``, ``p1``, … are the periods of the fiscal year at the chosen grain; a row's
allocation and warning and critical % apply to every plan of the row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import dash_ag_grid as dag  # type: ignore[import-untyped]
from dash import html

from dashboard.admin.target_paste import parse_number
from models.enums import TargetAllocation, TargetGrain
from models.queries.admin.targets import GridUnit
from models.targets import TargetPlanChange, TargetPlanSpec

TARGETS_PATH = "/admin/targets"
IDS = {
    name: f"admin-targets-{name}"
    for name in (
        "kpi",
        "grain",
        "year",
        "grid",
        "paste",
        "paste-read",
        "grid-note",
        "review",
        "changes",
        "reviewed",
        "save",
        "save-note",
        "saved",
        "loaded",
    )
}
MAX_ROWS = 2000
SETTINGS = ("allocation", "warn_pct", "crit_pct")


def column(index: int) -> str:
    return f"p{index}"


def grid_columns(labels: Sequence[str]) -> list[dict[str, Any]]:
    periods = [
        {
            "field": column(i),
            "headerName": label,
            "editable": True,
            "cellDataType": "number",
            "type": "rightAligned",
            "minWidth": 100,
        }
        for i, label in enumerate(labels)
    ]
    return [
        {"field": "unit", "headerName": "Unit key", "pinned": "left", "minWidth": 120},
        {"field": "name", "headerName": "Unit", "pinned": "left", "minWidth": 180},
        *periods,
        {
            "field": "allocation",
            "headerName": "Allocation",
            "editable": True,
            "cellEditor": "agSelectCellEditor",
            "cellEditorParams": {"values": [a.value for a in TargetAllocation]},
        },
        {"field": "warn_pct", "headerName": "Warn %", "editable": True, "cellDataType": "number"},
        {"field": "crit_pct", "headerName": "Crit %", "editable": True, "cellDataType": "number"},
    ]


def grid(component_id: str) -> dag.AgGrid:
    return dag.AgGrid(
        id=component_id,
        columnDefs=grid_columns([]),
        rowData=[],
        defaultColDef={"resizable": True, "minWidth": 90},
        dashGridOptions={"singleClickEdit": True, "stopEditingWhenCellsLoseFocus": True},
        getRowId="params.data.unit",
        style={"width": "100%", "height": "480px"},
    )


def grid_rows(units: Sequence[GridUnit], starts: Sequence[dt.date]) -> list[dict[str, Any]]:
    """One row per unit: the stored values, and the settings of its first plan."""
    rows = []
    for unit in units:
        row: dict[str, Any] = {"unit": unit.key, "name": f"{'· ' * unit.depth}{unit.name}"}
        first = next((unit.plans[s] for s in starts if s in unit.plans), None)
        for i, start in enumerate(starts):
            plan = unit.plans.get(start)
            row[column(i)] = plan.value if plan else None
        row["allocation"] = (first.allocation if first else TargetAllocation.EXPLICIT).value
        row["warn_pct"] = first.warn_pct if first else None
        row["crit_pct"] = first.crit_pct if first else None
        rows.append(row)
    return rows


def _number(value: object, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{where}: not a number")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: not a finite number")
        return float(value)
    if isinstance(value, str) and len(value) <= 50:
        try:
            return parse_number(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    raise ValueError(f"{where}: not a number")


def _allocation(value: object, where: str) -> TargetAllocation:
    if value is None or value == "":
        return TargetAllocation.EXPLICIT
    if not isinstance(value, str) or value not in TargetAllocation.__members__.values():
        raise ValueError(f"{where}: the allocation is explicit, equal or share")
    return TargetAllocation(value)


def _rows(row_data: object) -> list[dict[str, Any]]:
    if not isinstance(row_data, list) or len(row_data) > MAX_ROWS:
        raise ValueError("the grid is malformed")
    if not all(isinstance(row, dict) for row in row_data):
        raise ValueError("the grid is malformed")
    return row_data


def grid_specs(
    row_data: object,
    stored: Sequence[GridUnit],
    kpi: str,
    grain: TargetGrain,
    periods: Sequence[tuple[dt.date, str]],
) -> list[TargetPlanSpec]:
    """The plans the grid holds (a cell with a value is a plan; the row's settings apply);
    ``periods`` are the columns' (first day, label).

    Raises:
        ValueError: a row of no unit of the grid, a cell that is not a number, a bad
            allocation or %, or a stored plan whose cell was emptied (plans are not removed
            here); the message names the row (by unit) and the column.
    """
    units = {unit.key: unit for unit in stored}
    specs: list[TargetPlanSpec] = []
    seen: set[str] = set()
    for row in _rows(row_data):
        key = row.get("unit")
        if not isinstance(key, str) or key not in units or key in seen:
            raise ValueError("a row of the grid names no unit of it")
        seen.add(key)
        where = f"row {key}"
        allocation = _allocation(row.get("allocation"), f"{where}, Allocation")
        warn = _number(row.get("warn_pct"), f"{where}, Warn %")
        crit = _number(row.get("crit_pct"), f"{where}, Crit %")
        for i, (start, label) in enumerate(periods):
            value = _number(row.get(column(i)), f"{where}, {label}")
            if value is None:
                if start in units[key].plans:
                    raise ValueError(
                        f"{where}, {label}: a plan cannot be removed here; put a value back"
                    )
                continue
            specs.append(TargetPlanSpec(kpi, key, grain, label, value, allocation, warn, crit))
    return specs


def merge_paste(
    row_data: Sequence[Mapping[str, Any]], pasted: Mapping[str, list[float | None]]
) -> list[dict[str, Any]]:
    """The grid's rows with the pasted values put in (empty pasted cells change nothing)."""
    merged = []
    for row in row_data:
        new = dict(row)
        for i, value in enumerate(pasted.get(str(row.get("unit")), [])):
            if value is not None:
                new[column(i)] = value
        merged.append(new)
    return merged


def _pct(value: Any) -> str:
    return "default" if value is None else f"{value:g} %"


def _change_text(change: TargetPlanChange) -> str:
    parts = []
    for name in ("value", "allocation", "warn_pct", "crit_pct"):
        if name not in change.after:
            continue
        before, after = change.before.get(name), change.after[name]
        if name in ("warn_pct", "crit_pct"):
            before, after = _pct(before), _pct(after)
        elif name == "allocation":
            before = getattr(before, "value", before)
            after = getattr(after, "value", after)
        parts.append(
            f"{name} {after}" if change.action == "created" else f"{name} {before} → {after}"
        )
    return f"{change.unit} {change.period}: {change.action}, " + ", ".join(parts)


def changes_view(changes: Sequence[TargetPlanChange]) -> html.Div:
    """What a save would change, one line per plan."""
    if not changes:
        return html.Div("Nothing to save: the grid matches the stored plans.", role="status")
    shown = [html.Li(_change_text(c)) for c in changes[:200]]
    more = [html.Li(f"… and {len(changes) - 200} more")] if len(changes) > 200 else []
    return html.Div(
        [
            html.P(f"{len(changes)} plan(s) will change:", className="fw-semibold mb-1"),
            html.Ul([*shown, *more], className="small"),
            html.P("Save to apply them all at once.", className="small mb-0"),
        ],
        className="border rounded p-2",
    )
