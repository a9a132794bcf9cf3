"""A KPI's admin page (``/admin/kpis/<key>``), and the new-KPI form (``/admin/kpis/_new``):
name, description, formula (checked as it is typed, the problem marked at its position, and
previewed on real data), unit, format, direction, owner unit, steward and the default target
levels; and the KPI's definition versions.

Needs ``catalog:manage`` and the KPI's owner unit in scope; the key in the path and every value
are checked again on the server by each callback. Saving goes through
``models.kpi_admin.save_kpi_form``: audited with before and after, a new definition version
when the formula, unit, format or direction changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboard.admin import kpi_params as kp
from dashboard.admin.kpi_forms import (
    ADMIN_KPIS_PATH,
    KPI_IDS,
    edit_form,
    formula_not_saved,
    formula_ok,
    formula_problem,
    preview_view,
    saved_note,
    versions_table,
)
from dashboard.admin.source_forms import options
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common import params
from dashboard.common.look import refusal
from models.enums import Direction
from models.formulas import FormulaError
from models.kpi_admin import MAX_FORMAT, MAX_UNIT, save_kpi_form
from models.permissions import AccessDenied, Permission
from models.queries.admin.kpis import (
    AdminKpi,
    admin_kpi,
    check_formula,
    kpi_version_rows,
    preview_value,
)
from models.queries.admin.sources import Choice, steward_choices, unit_choices

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path_template=f"{ADMIN_KPIS_PATH}/<key>",
    name="KPI settings",
    title="Northstar · KPI settings",
    permission=Permission.CATALOG_MANAGE.value,
    nav=False,
)

PAGE = "admin-kpi"
MANAGE = Permission.CATALOG_MANAGE
IDS = KPI_IDS
VIEW_FIELDS = (
    "key",
    "name",
    "description",
    "formula",
    "unit",
    "format",
    "direction",
    "owner",
    "steward",
    "warn",
    "crit",
)


def layout(key: object = None, **_query: Any) -> html.Div:
    """Only the key from the path; the guarded callbacks read and check everything."""
    try:
        current_principal().require(MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    shown = key if isinstance(key, str) else ""
    return html.Div(
        [
            dcc.Store(id=IDS["params"], data={"key": key}),
            dcc.Link("← All KPIs", href=ADMIN_KPIS_PATH, className="small"),
            html.Div(id=IDS["head"]),
            edit_form(shown),
            html.Div(id=IDS["versions"]),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _values(kpi: AdminKpi | None) -> tuple[Any, ...]:
    """The form's values in ``VIEW_FIELDS`` order (a new KPI's defaults for None)."""
    if kpi is None:
        return (
            "",
            "",
            "",
            "",
            "",
            ",.2f",
            Direction.HIGHER_IS_BETTER.value,
            None,
            None,
            None,
            None,
        )
    return (
        kpi.key,
        kpi.name,
        kpi.description,
        kpi.formula,
        kpi.unit,
        kpi.format,
        kpi.direction.value,
        kpi.owner_unit_id,
        kpi.steward_id,
        kpi.target_warn_pct,
        kpi.target_crit_pct,
    )


def _steward_options(stewards: list[Choice], kpi: AdminKpi | None) -> list[dict[str, Any]]:
    shown = options(stewards)
    current = None if kpi is None else kpi.steward_id
    if kpi is not None and current is not None and all(c["value"] != current for c in shown):
        # A steward outside today's choices still shows as the current value.
        shown.append({"label": kpi.steward or "current steward", "value": current})
    return shown


def _view_refused(error: UserFacingError) -> tuple[Any, ...]:
    return (error_view(error), *([dash.no_update] * (len(VIEW_FIELDS) + 2)), html.Div())


@dash.callback(
    Output(IDS["head"], "children"),
    *(Output(IDS[name], "value") for name in VIEW_FIELDS),
    Output(IDS["owner"], "options"),
    Output(IDS["steward"], "options"),
    Output(IDS["versions"], "children"),
    Input(IDS["params"], "data"),
    Input(IDS["saved"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_view_refused)
def admin_kpi_view(call: CallContext, page_params: object, _saved: object) -> tuple[Any, ...]:
    """The KPI named in the path (if owned in scope), its settings and versions; or the
    new-KPI form's choices."""
    key = kp.page_key(page_params)
    with read_connection() as connection:
        kpi = None if key == kp.NEW else admin_kpi(connection, call.principal, key)
        units = unit_choices(connection, call.principal, permission=MANAGE)
        covering = None if kpi is None else kpi.owner_path
        stewards = steward_choices(connection, call.principal, covering=covering, permission=MANAGE)
        versions = [] if kpi is None else kpi_version_rows(connection, kpi)
    call.rows = 1 + len(versions)
    stewards_shown = _steward_options(stewards, kpi)
    if kpi is None:
        head = html.H1("New KPI", className="h3")
    else:
        call.detail = {"kpi": kpi.key}
        head = html.H1([kpi.name, " ", html.Code(kpi.key, className="fs-6")], className="h3")
    return (
        head,
        *_values(kpi),
        options(units),
        stewards_shown,
        versions_table(versions),
    )


def _check_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), ""


@dash.callback(
    Output(IDS["formula-check"], "children"),
    Output(IDS["preview"], "children"),
    Input(IDS["formula"], "value"),
    State(IDS["unit"], "value"),
    State(IDS["format"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_check_refused)
def check_admin_kpi_formula(
    call: CallContext, formula: object, unit: object, fmt: object
) -> tuple[Any, ...]:
    """The formula checked as typed: its problem marked at its position, or the preview of
    its value on the last days' data at the admin's top unit."""
    text = kp.formula(formula)
    if not text.strip():
        return "", ""
    shown_unit = kp.short(unit, "the unit", MAX_UNIT)
    shown_format = kp.short(fmt, "the format", MAX_FORMAT) or ",.2f"
    with read_connection() as connection:
        try:
            parsed = check_formula(connection, call.principal, text)
        except FormulaError as exc:
            return formula_problem(exc.position, exc.problem), ""
        if not call.principal.has(Permission.KPI_VIEW):
            return formula_ok(sorted(parsed.metric_keys)), "No preview: it needs kpi:view."
        value = preview_value(connection, call.principal, text, utc_now(), unit=shown_unit)
    call.rows = 1
    return formula_ok(sorted(parsed.metric_keys)), preview_view(value, shown_format, shown_unit)


def _save_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), dash.no_update


@dash.callback(
    Output(IDS["save-note"], "children"),
    Output(IDS["saved"], "data"),
    Input(IDS["save"], "n_clicks"),
    State(IDS["params"], "data"),
    *(State(IDS[name], "value") for name in (*VIEW_FIELDS, "comment")),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_save_refused)
def save_admin_kpi(
    call: CallContext,
    n_clicks: object,
    page_params: object,
    key: object,
    name: object,
    description: object,
    formula: object,
    unit: object,
    fmt: object,
    direction: object,
    owner: object,
    steward: object,
    warn: object,
    crit: object,
    comment: object,
) -> tuple[Any, ...]:
    """Save the form (audited, a new version when the definition changed), or create the KPI."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    page = kp.page_key(page_params)
    create = page == kp.NEW
    kpi_key = kp.short(key, "the key", 64).strip() if create else page
    form = kp.kpi_form(
        name, description, formula, unit, fmt, direction, owner, steward, warn, crit, comment
    )
    try:
        with write_session() as session:
            saved = save_kpi_form(session, call.principal, kpi_key, form, create=create)
    except FormulaError as exc:
        return formula_not_saved(exc.position, exc.problem), dash.no_update
    call.detail = {"kpi": saved.key, "version": saved.version}
    note = saved_note(saved.key, saved.version, saved.new_version, create)
    return note, {"kpi": saved.key, "version": saved.version, "n": n_clicks}
