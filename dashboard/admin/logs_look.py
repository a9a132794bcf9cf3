"""The log viewers' parts: filter bars, the grids (one page at a time, paged on the server),
the summary line and the CSV export (pure builders)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag  # type: ignore[import-untyped]
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.admin.logs_params import SYSTEM
from models.enums import Outcome
from models.queries.admin.logs import AccessRow, AuditRow, LogKind, LogPage

ADMIN_LOGS_PATH = "/admin/logs"
PAGE_SIZE = 100
_NAMES = (
    "load",
    "user",
    "dates",
    "text",
    "choice",
    "order",
    "grid",
    "summary",
    "pages",
    "export",
    "download",
    "export-note",
)
LOG_IDS = {kind: {name: f"admin-logs-{kind.value}-{name}" for name in _NAMES} for kind in LogKind}
TITLES = {LogKind.ACCESS: "Access log", LogKind.AUDIT: "Audit log"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with these as a formula (CSV injection)."""

ACCESS_COLUMNS = [
    ("at", "Time (UTC)", 200),
    ("user", "User", 200),
    ("page", "Page", 150),
    ("action", "Action", 200),
    ("outcome", "Outcome", 100),
    ("rows", "Rows", 80),
    ("duration_ms", "ms", 80),
    ("client", "Client", 120),
    ("scope", "Scope", 120),
    ("detail", "Detail", 400),
]
AUDIT_COLUMNS = [
    ("at", "Time (UTC)", 200),
    ("actor", "Actor", 200),
    ("action", "Action", 200),
    ("target_type", "Kind", 110),
    ("target_id", "Target", 150),
    ("before", "Before", 300),
    ("after", "After", 300),
    ("detail", "Detail", 250),
]
COLUMNS = {LogKind.ACCESS: ACCESS_COLUMNS, LogKind.AUDIT: AUDIT_COLUMNS}


def logs_href(kind: LogKind) -> str:
    return f"{ADMIN_LOGS_PATH}?log={kind.value}"


def _labelled(label: str, control_id: str, control: Any, width: int) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control], xs=12, md=width
    )


def filter_bar(kind: LogKind) -> dbc.Row:
    """User, days, text, outcome (access) or kind (audit), order; options come by callback."""
    ids = LOG_IDS[kind]
    choice_options: list[dict[str, str]] = []
    if kind is LogKind.ACCESS:
        choice_label, text_label = "Outcome", "Page or action contains"
        choice_options = [{"label": o.value, "value": o.value} for o in Outcome]
    else:
        choice_label, text_label = "Kind of target", "Action or target contains"
    return dbc.Row(
        [
            _labelled(
                "User" if kind is LogKind.ACCESS else "Actor",
                ids["user"],
                dcc.Dropdown(id=ids["user"], options=[], placeholder="Everyone"),
                3,
            ),
            _labelled(
                "Days (UTC)",
                ids["dates"],
                dcc.DatePickerRange(id=ids["dates"], clearable=True, display_format="YYYY-MM-DD"),
                3,
            ),
            _labelled(
                text_label,
                ids["text"],
                dbc.Input(id=ids["text"], debounce=True, maxLength=200),
                2,
            ),
            _labelled(
                choice_label,
                ids["choice"],
                dcc.Dropdown(id=ids["choice"], options=choice_options, multi=True),
                2,
            ),
            _labelled(
                "Order",
                ids["order"],
                dcc.Dropdown(
                    id=ids["order"],
                    options=[
                        {"label": "Newest first", "value": "newest"},
                        {"label": "Oldest first", "value": "oldest"},
                    ],
                    value="newest",
                    clearable=False,
                ),
                2,
            ),
        ],
        class_name="g-2 mb-2",
    )


def log_section(kind: LogKind) -> html.Div:
    """One log: filters, summary, grid, pages, export."""
    ids = LOG_IDS[kind]
    grid = dag.AgGrid(
        id=ids["grid"],
        rowData=[],
        columnDefs=[
            {"field": f, "headerName": h, "width": w, "tooltipField": f}
            for f, h, w in COLUMNS[kind]
        ],
        defaultColDef={"resizable": True, "sortable": False, "filter": False},
        dashGridOptions={"suppressFieldDotNotation": True, "tooltipShowDelay": 300},
        style={"width": "100%", "height": "560px"},
    )
    return html.Div(
        [
            filter_bar(kind),
            html.Div(id=ids["summary"], className="small mb-2"),
            grid,
            dbc.Pagination(
                id=ids["pages"],
                max_value=1,
                active_page=1,
                first_last=True,
                previous_next=True,
                fully_expanded=False,
                class_name="mt-2",
            ),
            dbc.Button("Export CSV", id=ids["export"], color="secondary", size="sm"),
            html.Div(id=ids["export-note"], className="mt-2"),
            dcc.Download(id=ids["download"]),
            dcc.Store(id=ids["load"], data={"log": kind.value}),
        ]
    )


def user_options(users: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"label": "System (no user)", "value": SYSTEM}] + [
        {"label": label, "value": user_id} for user_id, label in users
    ]


def _json(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _at(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def row_values(kind: LogKind, row: AccessRow | AuditRow) -> dict[str, Any]:
    """One log row as the grid and the CSV show it (JSON columns as text)."""
    if isinstance(row, AccessRow):
        return {
            "at": _at(row.at),
            "user": row.user or "",
            "page": row.page,
            "action": row.action,
            "outcome": row.outcome.value,
            "rows": row.rows,
            "duration_ms": None if row.duration_ms is None else round(row.duration_ms, 1),
            "client": row.client or "",
            "scope": " ".join(row.scope),
            "detail": _json(row.detail),
        }
    return {
        "at": _at(row.at),
        "actor": row.actor,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id or "",
        "before": _json(row.before),
        "after": _json(row.after),
        "detail": _json(row.detail),
    }


def grid_rows(kind: LogKind, rows: Sequence[AccessRow | AuditRow]) -> list[dict[str, Any]]:
    return [{"id": str(r.id), **row_values(kind, r)} for r in rows]


def summary(page: LogPage, kind: LogKind) -> str:
    """``Rows 101 to 200 of 1,234 matching.``"""
    if not page.rows:
        return f"No {TITLES[kind].lower()} rows match the filters."
    first, last = page.offset + 1, page.offset + len(page.rows)
    more = " (only these can be paged through: narrow the filters)" if page.capped else ""
    return (
        f"Rows {first:,} to {last:,} of {page.total:,}{'+' if page.capped else ''} matching{more}."
    )


def page_count(page: LogPage) -> int:
    return max(1, -(-page.total // PAGE_SIZE))


def neutralise(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run: text starting with = + - @ (or a tab or
    carriage return) gets a leading quote; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(kind: LogKind, rows: Sequence[AccessRow | AuditRow]) -> str:
    """The rows as CSV: a header, then one line per row, formula cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    fields = [f for f, _h, _w in COLUMNS[kind]]
    writer.writerow(["id", *fields])
    for row in rows:
        values = row_values(kind, row)
        writer.writerow([row.id, *(neutralise(values[f]) for f in fields)])
    return buffer.getvalue()
