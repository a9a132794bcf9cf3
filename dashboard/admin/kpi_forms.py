"""The admin KPI pages' parts: the KPIs list, the edit form, the formula check with a marker
under the problem, the preview and the versions (pure builders)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.admin.kpi_params import NEW
from dashboard.admin.source_forms import alert
from dashboard.common.look import when
from dashboard.executive.summary import format_value
from models.enums import Direction
from models.formulas import MAX_FORMULA_LENGTH
from models.kpi_admin import MAX_DESCRIPTION, MAX_FORMAT, MAX_NAME, MAX_UNIT
from models.kpi_versions import COMMENT_MAX
from models.queries.admin.kpis import PREVIEW_DAYS, AdminKpiRow, VersionRow
from models.queries.executive.numbers import KpiValue

ADMIN_KPIS_PATH = "/admin/kpis"
LIST_IDS = {name: f"admin-kpis-{name}" for name in ("list", "refresh")}
KPI_IDS = {
    name: f"admin-kpi-edit-{name}"
    for name in (
        "params",
        "head",
        "key",
        "name",
        "description",
        "formula",
        "formula-check",
        "preview",
        "unit",
        "format",
        "direction",
        "owner",
        "steward",
        "warn",
        "crit",
        "comment",
        "save",
        "save-note",
        "saved",
        "versions",
    )
}
DIRECTION_OPTIONS = [
    {"label": "Higher is better", "value": Direction.HIGHER_IS_BETTER.value},
    {"label": "Lower is better", "value": Direction.LOWER_IS_BETTER.value},
]
CARET_STYLE = {
    "fontSize": "1rem",
    "lineHeight": "1",
    "paddingLeft": "calc(0.75rem + 1px)",
    "overflow": "hidden",
    "whiteSpace": "pre",
}
"""Padded like Bootstrap's ``form-control``, so the caret stands under the typed character."""
DEBOUNCE_S = 0.4
"""The formula is checked and previewed once typing pauses this long."""


def admin_kpi_href(key: str) -> str:
    return f"{ADMIN_KPIS_PATH}/{quote(key, safe='')}"


def kpis_table(rows: Sequence[AdminKpiRow]) -> dbc.Table | html.P:
    """Every KPI owned in scope: its page, owner, steward, formula, version."""
    if not rows:
        return html.P("No KPI is owned by a unit in your scope yet.", className="small")
    heads = ("KPI", "Owner unit", "Steward", "Formula", "Unit", "Version", "Definition since")
    body = [
        html.Tr(
            [
                html.Td([dcc.Link(r.name, href=admin_kpi_href(r.key)), " ", html.Code(r.key)]),
                html.Td(r.owner_unit),
                html.Td(r.steward or "—"),
                html.Td(html.Code(r.formula)),
                html.Td(r.unit or "—"),
                html.Td("—" if r.version is None else f"v{r.version}"),
                html.Td(when(r.changed_at)),
            ]
        )
        for r in rows
    ]
    head = html.Thead(html.Tr([html.Th(h) for h in heads]))
    return dbc.Table([head, html.Tbody(body)], size="sm", striped=True, responsive=True)


def _labelled(label: str, control_id: str, control: Any, width: int = 4) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control], xs=12, md=width
    )


def _text(control_id: str, limit: int, **extra: Any) -> dbc.Input:
    return dbc.Input(id=control_id, maxLength=limit, **extra)


def edit_form(key: str) -> dbc.Card:
    """The KPI's settings; the key is typed only for a new KPI."""
    ids = KPI_IDS
    new = key == NEW
    formula = dbc.Input(
        id=ids["formula"],
        maxLength=MAX_FORMULA_LENGTH,
        debounce=DEBOUNCE_S,
        placeholder="sum(orders.amount) / count(orders)",
        class_name="font-monospace",
    )
    pct = {"type": "number", "min": 0, "step": "any"}
    rows = [
        dbc.Row(
            [
                _labelled("Key (a-z, 0-9, _)", ids["key"], _text(ids["key"], 64, disabled=not new)),
                _labelled("Name", ids["name"], _text(ids["name"], MAX_NAME)),
                _labelled("Owner unit", ids["owner"], dcc.Dropdown(id=ids["owner"], options=[])),
            ],
            class_name="g-2 mb-2",
        ),
        dbc.Label("Formula", html_for=ids["formula"], class_name="small mb-0"),
        formula,
        html.Div(id=ids["formula-check"]),
        html.Div(id=ids["preview"], className="small text-muted mb-2"),
        dbc.Row(
            [
                _labelled("Unit", ids["unit"], _text(ids["unit"], MAX_UNIT), 2),
                _labelled("Format (e.g. ,.2f)", ids["format"], _text(ids["format"], MAX_FORMAT), 2),
                _labelled(
                    "Direction",
                    ids["direction"],
                    dcc.Dropdown(
                        id=ids["direction"],
                        options=DIRECTION_OPTIONS,
                        value=Direction.HIGHER_IS_BETTER.value,
                        clearable=False,
                    ),
                ),
                _labelled(
                    "Steward (optional)",
                    ids["steward"],
                    dcc.Dropdown(id=ids["steward"], options=[]),
                ),
            ],
            class_name="g-2 mb-2",
        ),
        dbc.Row(
            [
                _labelled(
                    "Warning at (% of target)", ids["warn"], dbc.Input(id=ids["warn"], **pct)
                ),
                _labelled(
                    "Critical at (% of target)", ids["crit"], dbc.Input(id=ids["crit"], **pct)
                ),
                _labelled(
                    "Why (kept with the version)",
                    ids["comment"],
                    _text(ids["comment"], COMMENT_MAX),
                ),
            ],
            class_name="g-2 mb-2",
        ),
        dbc.Label("Description", html_for=ids["description"], class_name="small mb-0"),
        dbc.Textarea(id=ids["description"], maxLength=MAX_DESCRIPTION, rows=2, class_name="mb-2"),
        dbc.Button("Create KPI" if new else "Save", id=ids["save"], color="primary", size="sm"),
        html.Div(id=ids["save-note"], className="mt-2"),
        dcc.Store(id=ids["saved"]),
    ]
    return dbc.Card(dbc.CardBody(rows), class_name="mb-3")


_TYPED = re.compile(r"'[\w.]*\w[\w.]*'")
"""A quoted piece of a formula problem that repeats what was typed (a name, a token)."""


def quiet_problem(problem: str) -> str:
    """The problem without repeating what was typed (answers never echo input): a typed name
    becomes "(at ^)", an example built from it is dropped; literals such as '(' stay."""
    shown = problem.split(", e.g. ", 1)[0]
    return _TYPED.sub("(at ^)", shown)


def formula_problem(position: int, problem: str) -> html.Div:
    """A caret under the formula input at ``position`` (0-based; the input is monospaced and
    this line is padded like it) and the problem, without repeating the formula."""
    at = max(0, min(position, MAX_FORMULA_LENGTH))
    return html.Div(
        [
            html.Pre(
                " " * at + "^",
                className="font-monospace text-danger mb-0",
                style=CARET_STYLE,
            ),
            html.Div(f"At character {at + 1}: {quiet_problem(problem)}.", className="small"),
        ],
        role="alert",
        className="text-danger",
    )


def formula_not_saved(position: int, problem: str) -> html.Div:
    """The save's refusal of a formula (the marker stays under the input)."""
    return alert(
        f"Not saved: the formula has a problem at character {position + 1}: "
        f"{quiet_problem(problem)}.",
        "warning",
    )


def formula_ok(metric_keys: Sequence[str]) -> html.Div:
    reads = ", ".join(sorted(metric_keys))
    return html.Div(f"The formula is valid; it reads {reads}.", className="small text-success")


def preview_view(value: KpiValue, fmt: str, unit: str) -> html.Div:
    """The draft's value over the last days at the admin's top unit, and the days before."""
    shown = format_value(value.value, fmt, unit)
    before = format_value(value.previous_value, fmt, unit)
    return html.Div(
        f"Preview at {value.unit.name}, last {PREVIEW_DAYS} days: {shown} "
        f"(the {PREVIEW_DAYS} days before: {before})."
    )


def versions_table(rows: Sequence[VersionRow]) -> html.Div:
    """The KPI's definitions, newest first."""
    if not rows:
        return html.Div()
    heads = ("Version", "Since", "Formula", "Unit", "Format", "Direction", "By", "Why")
    body = [
        html.Tr(
            [
                html.Td(f"v{r.version}"),
                html.Td(when(r.at)),
                html.Td(html.Code(r.formula)),
                html.Td(r.unit or "—"),
                html.Td(html.Code(r.format)),
                html.Td(r.direction.value.replace("_", " ")),
                html.Td(r.actor),
                html.Td(r.comment or "—"),
            ]
        )
        for r in rows
    ]
    head = html.Thead(html.Tr([html.Th(h) for h in heads]))
    return html.Div(
        [
            html.H2("Definition versions", className="h5"),
            dbc.Table([head, html.Tbody(body)], size="sm", striped=True, responsive=True),
        ]
    )


def saved_note(key: str, version: int, new_version: bool, created: bool) -> html.Div:
    if created:
        return alert(
            [
                f"Created {key} (definition v{version}). ",
                dcc.Link("Open it", href=admin_kpi_href(key)),
            ]
        )
    if new_version:
        return alert(f"Saved: definition v{version}. The KPI page shows it within a minute.")
    return alert("Saved (the definition did not change: no new version).")
