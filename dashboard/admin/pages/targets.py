"""The target plan grid (admin console): one KPI's plans for the units in the admin's scope
(rows) and the periods of a fiscal year at a grain (columns), edited in place or pasted from a
spreadsheet, reviewed, then saved at once.

Needs ``catalog:manage``. Every callback reads the grid's units again from the database, in
the admin's scope: the browser's rows are only values to check. Saving applies the plans the
admin reviewed, all in one transaction, audited (docs/targets.md, Editing plans in the
console).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboard.admin import users_params as up
from dashboard.admin.target_grid import (
    IDS,
    TARGETS_PATH,
    changes_view,
    grid,
    grid_columns,
    grid_rows,
    grid_specs,
    merge_paste,
)
from dashboard.admin.target_paste import MAX_CHARS, parse_paste
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    current_services,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common import params
from dashboard.common.look import refusal
from models.admin.targets import save_target_plans
from models.enums import TargetGrain
from models.permissions import AccessDenied, Permission
from models.queries.admin.targets import (
    GridUnit,
    grid_periods,
    kpi_choices,
    period_labels,
    plan_grid,
)
from models.target_periods import fiscal_year_of
from models.targets import TargetPlanSpec

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=TARGETS_PATH,
    name="Targets",
    title="Northstar · Targets",
    permission=Permission.CATALOG_MANAGE.value,
    nav_group="Admin",
    order=56,
)

PAGE = "admin-targets"
MANAGE = Permission.CATALOG_MANAGE


def _fiscal_start() -> int:
    return int(current_services().settings.fiscal_year_start_month)


def layout(**_query: Any) -> html.Div:
    """The pickers, the grid, the paste box and the buttons; the callbacks do the rest."""
    try:
        current_principal().require(MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    this_year = fiscal_year_of(dt.datetime.now(dt.UTC).date(), _fiscal_start())
    years = [this_year - 1, this_year, this_year + 1, this_year + 2]
    pick = "col-md-3 mb-2"
    return html.Div(
        [
            html.H1("Targets", className="h3"),
            html.P(
                "Plan values of one KPI for the units in your scope. Edit cells, or paste rows "
                "copied from a spreadsheet (unit key or name, then one value per period); "
                "review the changes, then save.",
                className="text-muted small",
            ),
            html.Div(
                [
                    html.Div(dcc.Dropdown(id=IDS["kpi"], placeholder="KPI"), className=pick),
                    html.Div(
                        dcc.Dropdown(
                            id=IDS["grain"],
                            options=[{"label": g.value, "value": g.value} for g in TargetGrain],
                            value=TargetGrain.MONTH.value,
                            clearable=False,
                        ),
                        className=pick,
                    ),
                    html.Div(
                        dcc.Dropdown(
                            id=IDS["year"],
                            options=[{"label": f"FY{y}", "value": y} for y in years],
                            value=this_year,
                            clearable=False,
                        ),
                        className=pick,
                    ),
                ],
                className="row",
            ),
            html.Div(id=IDS["grid-note"], className="mb-2"),
            grid(IDS["grid"]),
            html.Label("Paste from a spreadsheet", className="form-label small mt-3 mb-0"),
            dcc.Textarea(id=IDS["paste"], className="form-control", style={"height": "8rem"}),
            html.Button(
                "Read pasted rows", id=IDS["paste-read"], className="btn btn-secondary btn-sm mt-2"
            ),
            html.Div(
                [
                    html.Button(
                        "Review changes", id=IDS["review"], className="btn btn-secondary btn-sm"
                    ),
                    html.Button("Save", id=IDS["save"], className="btn btn-primary btn-sm ms-2"),
                ],
                className="mt-3",
            ),
            html.Div(id=IDS["changes"], className="mt-2"),
            html.Div(id=IDS["save-note"], className="mt-2"),
            dcc.Store(id=IDS["reviewed"]),
            dcc.Store(id=IDS["saved"]),
        ]
    )


def _year(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 2000 <= value <= 2100:
        raise ValueError("choose a fiscal year")
    return value


def _choice(kpi: object, grain: object, year: object) -> tuple[str, TargetGrain, int]:
    return params.key(kpi, "KPI"), up.one_of(grain, TargetGrain, "grain"), _year(year)


def _read_grid(
    call: CallContext, kpi: str, grain: TargetGrain, year: int
) -> tuple[list[GridUnit], list[tuple[dt.date, str]]]:
    """The grid's units and plans, and its periods (first day, label); the KPI must exist."""
    fsm = _fiscal_start()
    starts = grid_periods(grain, year, fsm)
    with read_connection() as connection:
        if kpi not in {k.key for k in kpi_choices(connection, call.principal)}:
            raise ValueError("there is no such KPI")
        units = plan_grid(connection, call.principal, kpi, grain, starts)
    return units, list(zip(starts, period_labels(grain, starts, fsm), strict=True))


def _grid_refused(error: UserFacingError) -> tuple[Any, ...]:
    return dash.no_update, dash.no_update, error_view(error), dash.no_update


@dash.callback(
    Output(IDS["grid"], "rowData"),
    Output(IDS["grid"], "columnDefs"),
    Output(IDS["grid-note"], "children"),
    Output(IDS["kpi"], "options"),
    Input(IDS["paste-read"], "n_clicks"),
    Input(IDS["kpi"], "value"),
    Input(IDS["grain"], "value"),
    Input(IDS["year"], "value"),
    Input(IDS["saved"], "data"),
    State(IDS["paste"], "value"),
    State(IDS["grid"], "rowData"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_grid_refused)
def target_grid_view(
    call: CallContext,
    paste_clicks: object,
    kpi: object,
    grain: object,
    year: object,
    _saved: object,
    pasted: object,
    row_data: object,
) -> tuple[Any, ...]:
    """The grid of the chosen KPI, grain and year; with "Read pasted rows", the grid as it is
    with the pasted values put in (or why the paste was refused, the grid unchanged)."""
    with read_connection() as connection:
        kpis = kpi_choices(connection, call.principal)
    options = [{"label": f"{k.name} ({k.key})", "value": k.key} for k in kpis]
    if kpi is None:
        return [], grid_columns([]), "Choose a KPI.", options
    units, periods = _read_grid(call, *_choice(kpi, grain, year))
    call.rows = len(units)
    labels = [label for _, label in periods]
    stored = grid_rows(units, [start for start, _ in periods])
    if dash.ctx.triggered_id != IDS["paste-read"] or not params.clicked(paste_clicks):
        return stored, grid_columns(labels), "", options
    text = up.text(pasted, "paste", MAX_CHARS)
    read = parse_paste(text, {u.key: u.name for u in units}, labels)
    if read.errors:
        refused = html.Div(
            [
                html.P("The paste was not read:", className="mb-1"),
                html.Ul([html.Li(e) for e in read.errors]),
            ],
            role="alert",
            className="alert alert-warning mb-0",
        )
        return dash.no_update, dash.no_update, refused, options
    current = _current_rows(row_data, stored)
    note = f"Read {len(read.values)} row(s): review the changes, then save."
    return merge_paste(current, read.values), grid_columns(labels), note, options


def _current_rows(row_data: object, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The browser's rows when they are the grid's rows (edits kept), else the stored ones."""
    if not isinstance(row_data, list) or len(row_data) != len(stored):
        return stored
    if [r.get("unit") if isinstance(r, dict) else None for r in row_data] != [
        r["unit"] for r in stored
    ]:
        return stored
    return [dict(r) for r in row_data]


def _specs(
    call: CallContext, kpi: object, grain: object, year: object, row_data: object
) -> list[TargetPlanSpec]:
    kpi_key, chosen, fiscal_year = _choice(kpi, grain, year)
    units, periods = _read_grid(call, kpi_key, chosen, fiscal_year)
    return grid_specs(row_data, units, kpi_key, chosen, periods)


def _digest(specs: list[TargetPlanSpec]) -> str:
    """What a review remembers of the plans it showed (to save exactly those)."""
    plain = [dataclasses.astuple(spec) for spec in specs]
    return hashlib.sha256(json.dumps(plain, default=str).encode()).hexdigest()


@dash.callback(
    Output(IDS["changes"], "children"),
    Output(IDS["reviewed"], "data"),
    Input(IDS["review"], "n_clicks"),
    State(IDS["kpi"], "value"),
    State(IDS["grain"], "value"),
    State(IDS["year"], "value"),
    State(IDS["grid"], "rowData"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), None))
def review_target_changes(
    call: CallContext, n_clicks: object, kpi: object, grain: object, year: object, rows: object
) -> tuple[Any, ...]:
    """What saving the grid would change (computed and rolled back: nothing is written)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    specs = _specs(call, kpi, grain, year, rows)
    with write_session() as session:
        changes = save_target_plans(
            session, call.principal, specs, fiscal_start_month=_fiscal_start(), dry_run=True
        )
    call.rows = len(changes)
    return changes_view(changes), _digest(specs) if changes else None


@dash.callback(
    Output(IDS["save-note"], "children"),
    Output(IDS["saved"], "data"),
    Input(IDS["save"], "n_clicks"),
    State(IDS["kpi"], "value"),
    State(IDS["grain"], "value"),
    State(IDS["year"], "value"),
    State(IDS["grid"], "rowData"),
    State(IDS["reviewed"], "data"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), dash.no_update)
)
def save_target_changes(
    call: CallContext,
    n_clicks: object,
    kpi: object,
    grain: object,
    year: object,
    rows: object,
    reviewed: object,
) -> tuple[Any, ...]:
    """Apply the reviewed plans in one transaction (audited); refused when the grid changed
    since the review."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    specs = _specs(call, kpi, grain, year, rows)
    if not isinstance(reviewed, str) or reviewed != _digest(specs):
        raise ValueError("review the changes first (the grid differs from what was reviewed)")
    with write_session() as session:
        changes = save_target_plans(
            session, call.principal, specs, fiscal_start_month=_fiscal_start()
        )
    call.rows = len(changes)
    call.detail = {"kpi": specs[0].kpi if specs else None, "changes": len(changes)}
    message = html.Div(
        f"Saved {len(changes)} plan change(s).", role="status", className="alert alert-success mb-0"
    )
    return message, {"saved": len(changes), "n": n_clicks}
