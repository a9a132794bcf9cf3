"""The alert rule editor (``/alerts/<rule id>``, ``/alerts/new``): the rule, its state and
history, a 30-day preview, and saving (audited), for people with ``alert:manage``.

The rule number comes from the URL and every field from the browser: each callback checks
them again (the rule and its unit in the editor's scope, the KPI, channels and owner) before
reading or writing anything. A refused save changes nothing.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from sqlalchemy import Connection

from dashboard.alerts.figures import EMPTY, preview_figure
from dashboard.alerts.look import ALERTS_PATH, NEW_RULE, rule_href, rule_text
from dashboard.alerts.params import parse_form, problems_view
from dashboard.alerts.rule_form import FIELDS, first_values, form_ids, owner_options, rule_form
from dashboard.alerts.rule_list import history, state_summary
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    authorize_unit,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common import params
from dashboard.common.look import refusal
from dashboard.shell import live
from ingest.alerts.measure import Line
from ingest.alerts.preview import preview
from models.alerts.rules import create_rule, update_rule
from models.alerts.spec import KpiTraits, RuleInvalid, RuleSpec, problems
from models.alerts.tables import Condition
from models.permissions import AccessDenied, Permission, Principal
from models.queries.alerts.rules import RuleView, audience, channel_choices, get_rule, rule_events
from models.queries.executive.definitions import UnknownKpi, load_kpi, load_kpis
from models.queries.scope import Unit, child_units, root_units

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path_template=f"{ALERTS_PATH}/<rule_id>",
    name="Alert rule",
    title="Northstar · Alert rule",
    nav=False,
    permission=Permission.ALERT_MANAGE.value,
)

PAGE = "alert-edit"
RULE_ID = "alert-rule-id"
STATE_ID = "alert-state"
HISTORY_ID = "alert-history"
PREVIEW_BUTTON = "alert-preview"
PREVIEW_TEXT = "alert-preview-text"
PREVIEW_GRAPH = "alert-preview-graph"
SAVE_BUTTON = "alert-save"
SAVE_RESULT = "alert-save-result"
SAVED = "alert-saved"
NAVIGATE_ID = "alert-navigate"
FORM = form_ids("alert")
MAX_UNITS = 1000


def units_in_scope(connection: Connection, principal: Principal) -> list[Unit]:
    """The principal's units, each root followed by its subtree (depth first)."""
    found: list[Unit] = []
    pending = list(reversed(root_units(connection, principal)))
    while pending and len(found) < MAX_UNITS:
        unit = pending.pop()
        found.append(unit)
        pending.extend(reversed(child_units(connection, principal, unit, active_only=True)))
    return found


def rule_number(value: object) -> int | None:
    """None for a new rule, else the rule's number (ValueError for anything else)."""
    return None if value == NEW_RULE else params.record_id(value, "an alert rule")


def layout(rule_id: str | None = None, **_query: Any) -> html.Div:
    """The form, filled with the rule (or a new rule's defaults); callbacks do the rest."""
    try:
        principal = current_principal()
        principal.require(Permission.ALERT_MANAGE, Permission.KPI_VIEW)
        number = rule_number(rule_id)
        with read_connection() as connection:
            rule = None if number is None else get_rule(connection, principal, number)
            kpis = load_kpis(connection, principal)
            units = units_in_scope(connection, principal)
            channels = channel_choices(connection, principal)
            unit = rule.unit_id if rule else units[0].id if units else None
            owners = [] if unit is None else audience(connection, unit)
    except (AccessDenied, ValueError) as exc:
        word = "Not allowed" if isinstance(exc, AccessDenied) else "Invalid address"
        return refusal(f"{word}: {exc}.")
    values = first_values(
        rule, kpis[0].key if kpis else None, units[0].key if units else None, principal.user_id
    )
    return view(rule, rule_id, rule_form(FORM, values, kpis, units, channels, owners))


def view(rule: RuleView | None, rule_id: str | None, form: Any) -> html.Div:
    """The page around the form (pure)."""
    title = "New alert rule" if rule is None else f"Alert rule: {rule.name}"
    return html.Div(
        [
            dcc.Store(id=RULE_ID, data=rule_id),
            dcc.Store(id=SAVED),
            dcc.Location(id=NAVIGATE_ID, refresh="callback-nav"),
            dcc.Link("← Alert rules", href=ALERTS_PATH, className="small"),
            html.H1(title, className="h3"),
            html.P(rule_text(rule), className="text-muted") if rule else None,
            html.Div(id=STATE_ID),
            dbc.Card(dbc.CardBody(form), class_name="mb-3"),
            html.Div(
                [
                    dbc.Button(
                        "Preview the last 30 days",
                        id=PREVIEW_BUTTON,
                        n_clicks=0,
                        color="secondary",
                        class_name="me-2",
                    ),
                    dbc.Button("Save", id=SAVE_BUTTON, n_clicks=0, color="primary"),
                ],
                className="mb-2",
            ),
            html.Div(id=SAVE_RESULT, role="status", className="mb-2"),
            html.Div(id=PREVIEW_TEXT, role="status", className="mb-2"),
            dcc.Graph(id=PREVIEW_GRAPH, figure=EMPTY, config={"displaylogo": False}),
            html.H2("History", className="h5 mt-3"),
            html.Div(id=HISTORY_ID),
        ]
    )


def _state_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), None


@dash.callback(
    Output(STATE_ID, "children"),
    Output(HISTORY_ID, "children"),
    Input(RULE_ID, "data"),
    Input(SAVED, "data"),
)
@guarded_callback(page=PAGE, permission=Permission.ALERT_MANAGE, on_error=_state_refused)
def rule_state(call: CallContext, rule_id: object, _saved: object) -> tuple[Any, Any]:
    """The rule's state now and its transitions (read again after each save)."""
    number = rule_number(rule_id)
    if number is None:
        return html.P("Not saved yet.", className="text-muted"), None
    with read_connection() as connection:
        rule = get_rule(connection, call.principal, number)
        events = rule_events(connection, call.principal, number)
    call.rows = 1 + len(events)
    call.detail = {"rule": number}
    return state_summary(rule, live.utc_now()), history(events, rule)


def _no_owners(_error: UserFacingError) -> list[dict[str, Any]]:
    return []


@dash.callback(
    Output(FORM["owner"], "options"),
    Input(FORM["unit"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.ALERT_MANAGE, on_error=_no_owners)
def owner_choices(call: CallContext, unit: object) -> list[dict[str, Any]]:
    """Who may own a rule on the chosen unit: the active users who may see the KPI there."""
    with read_connection() as connection:
        chosen = authorize_unit(connection, call.principal, unit)
        people = audience(connection, chosen.id)
    call.rows = len(people)
    call.detail = {"unit": chosen.key}
    return owner_options(people)


def _form(values: tuple[object, ...]) -> RuleSpec:
    return parse_form(dict(zip(FIELDS, values, strict=True)))


FORM_STATES = [State(FORM[field], "value") for field in FIELDS]


def _preview_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), EMPTY


@dash.callback(
    Output(PREVIEW_TEXT, "children"),
    Output(PREVIEW_GRAPH, "figure"),
    Input(PREVIEW_BUTTON, "n_clicks"),
    *FORM_STATES,
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.ALERT_MANAGE, on_error=_preview_refused)
def preview_rule(call: CallContext, n_clicks: object, *values: object) -> tuple[Any, Any]:
    """How often the rule in the form would have fired over the last 30 days."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    try:
        spec = _form(values)
        with read_connection() as connection:
            unit = authorize_unit(connection, call.principal, spec.unit_key)
            kpi = load_kpi(connection, call.principal, spec.kpi_key)
            found = problems(spec, KpiTraits(kpi.name, kpi.target, kpi.levels), unit.level)
            if found:
                raise RuleInvalid(found)
            line = Line(
                spec.condition, spec.threshold, spec.clear_threshold, spec.for_s, spec.window_s
            )
            replayed = preview(connection, call.principal, line, kpi, unit.id, live.utc_now())
    except RuleInvalid as exc:
        return problems_view(exc.problems), EMPTY
    except UnknownKpi:
        raise ValueError("there is no KPI with that key") from None
    call.rows = len(replayed.judged)
    call.detail = {"kpi": kpi.key, "unit": unit.key, "fired": replayed.fired}
    times = "time" if replayed.fired == 1 else "times"
    now_text = " It would be firing now." if replayed.firing_at_end else ""
    text = html.Div(
        f"Would have fired {replayed.fired} {times} in the last 30 days "
        f"(replayed by {replayed.granularity.value}).{now_text}",
        className="alert alert-info mb-0",
    )
    percent = spec.condition in (Condition.CHANGE_PCT, Condition.OUTSIDE_TARGET_BAND)
    figure = preview_figure(
        replayed.judged,
        replayed.fired_at,
        fire=line.levels.fire,
        clear=line.levels.clear,
        y_title="%" if percent else kpi.unit,
    )
    return text, figure


def _save_refused(error: UserFacingError) -> tuple[Any, Any, Any]:
    return error_view(error), dash.no_update, dash.no_update


@dash.callback(
    Output(SAVE_RESULT, "children"),
    Output(SAVED, "data"),
    Output(NAVIGATE_ID, "href"),
    Input(SAVE_BUTTON, "n_clicks"),
    State(RULE_ID, "data"),
    *FORM_STATES,
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.ALERT_MANAGE, on_error=_save_refused)
def save_rule(
    call: CallContext, n_clicks: object, rule_id: object, *values: object
) -> tuple[Any, Any, Any]:
    """Create or update the rule (audited); problems are listed and nothing is saved."""
    number = rule_number(rule_id)
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update, dash.no_update
    now = live.utc_now()
    try:
        spec = _form(values)
        with write_session() as session:
            if number is None:
                created = create_rule(session, call.principal, spec, now)
            else:
                changed = update_rule(session, call.principal, number, spec, now)
    except RuleInvalid as exc:
        return problems_view(exc.problems), dash.no_update, dash.no_update
    call.rows = 1
    if number is None:
        call.detail = {"rule": created, "created": True}
        return (
            html.Div("Created.", className="alert alert-success mb-0"),
            now.isoformat(),
            rule_href(created),
        )
    call.detail = {"rule": number, "changed": changed}
    message = "Saved." if changed else "Nothing changed."
    return html.Div(message, className="alert alert-success mb-0"), now.isoformat(), dash.no_update
