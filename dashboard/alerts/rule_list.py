"""The alert rules page's parts: the rules table, a rule's state and its history (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from dashboard.alerts.look import (
    alert_state_badge,
    kpi_href,
    rule_href,
    rule_text,
    severity_badge,
)
from dashboard.common.look import when
from ingest.alerts.wording import judged_text
from models.alerts.spec import is_muted
from models.alerts.tables import AlertState
from models.queries.alerts.rules import RuleEvent, RuleView

COLUMNS = ("State", "Rule", "KPI · unit", "Line", "Severity", "Judged value", "Since", "Owner")
STATE_FILTER = [
    {"label": "Every state", "value": "all"},
    *({"label": s.value.title(), "value": s.value} for s in AlertState),
]


def muted_now(rule: RuleView, now: dt.datetime) -> bool:
    return is_muted(rule.mute_from, rule.mute_until, now)


def _row(rule: RuleView, now: dt.datetime, editable: bool) -> html.Tr:
    name: Component | str = dcc.Link(rule.name, href=rule_href(rule.id)) if editable else rule.name
    return html.Tr(
        [
            html.Td(alert_state_badge(rule.state, muted=muted_now(rule, now))),
            html.Td(
                [
                    name,
                    html.Span(" (inactive)", className="text-muted") if not rule.active else None,
                ]
            ),
            html.Td(
                dcc.Link(
                    f"{rule.kpi_name} · {rule.unit_name}",
                    href=kpi_href(rule.kpi_key, rule.unit_key),
                )
            ),
            html.Td(rule_text(rule), className="small"),
            html.Td(severity_badge(rule.severity)),
            html.Td(judged_text(rule.condition, rule.last_value, rule.kpi_format, rule.kpi_unit)),
            html.Td(when(rule.since)),
            html.Td(rule.owner.name if rule.owner else "—"),
        ],
        id=f"alert-rule-{rule.id}",
    )


def rules_table(
    rules: Sequence[RuleView], now: dt.datetime, *, editable: bool, limit: int
) -> Component:
    """The rules, firing first; names link to the editor for people who may edit."""
    if not rules:
        return html.P("No alert rule on a unit of your scope matches.", className="text-muted")
    more = (
        html.P(f"Showing the first {limit}: narrow the filter.", className="small text-muted")
        if len(rules) >= limit
        else None
    )
    table = dbc.Table(
        [
            html.Thead(html.Tr([html.Th(c, scope="col") for c in COLUMNS])),
            html.Tbody([_row(rule, now, editable) for rule in rules]),
        ],
        hover=True,
        responsive=True,
        size="sm",
        class_name="align-middle",
    )
    return html.Div([table, more])


def state_summary(rule: RuleView, now: dt.datetime) -> html.Div:
    """A rule's state now: badge, since when, the judged value, the last evaluation."""
    value = judged_text(rule.condition, rule.last_value, rule.kpi_format, rule.kpi_unit)
    return html.Div(
        [
            alert_state_badge(rule.state, muted=muted_now(rule, now)),
            html.Span(f" since {when(rule.since)} · judged value {value} · "),
            html.Span(f"last evaluated {when(rule.last_evaluated_at)}", className="text-muted"),
        ],
        className="mb-2",
    )


def history(events: Sequence[RuleEvent], rule: RuleView) -> Component:
    """The rule's transitions, newest first."""
    if not events:
        return html.P("No transition yet.", className="text-muted small")
    rows = [
        html.Tr(
            [
                html.Td(when(e.at)),
                html.Td([alert_state_badge(e.from_state), " → ", alert_state_badge(e.to_state)]),
                html.Td(judged_text(rule.condition, e.value, rule.kpi_format, rule.kpi_unit)),
                html.Td("muted: not announced" if e.muted else ""),
            ]
        )
        for e in events
    ]
    head = html.Thead(html.Tr([html.Th(c) for c in ("When", "Transition", "Judged value", "")]))
    table: Component = dbc.Table([head, html.Tbody(rows)], size="sm", class_name="small")
    return table
