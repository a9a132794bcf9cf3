"""The rule editor's form: its fields and their first values (pure); reading it back is
:mod:`dashboard.alerts.params`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc

from models.alerts.spec import MAX_NAME, WINDOWS
from models.alerts.tables import AlertSeverity, Condition
from models.queries.alerts.rules import ChannelRef, RuleView
from models.queries.executive.definitions import KpiDefinition
from models.queries.scope import Unit
from models.queries.steward.incidents import Person

FIELDS = (
    "name",
    "kpi",
    "unit",
    "condition",
    "threshold",
    "clear",
    "for_min",
    "window",
    "severity",
    "mute_from",
    "mute_until",
    "notify",
    "channels",
    "owner",
    "active",
)
"""The form's fields, in the order the callbacks take them (as States)."""
CONDITION_LABELS = {
    Condition.ABOVE: "Above a value",
    Condition.BELOW: "Below a value",
    Condition.CHANGE_PCT: "Change on the previous period (%)",
    Condition.OUTSIDE_TARGET_BAND: "Outside the target band (% of target)",
}
NOTIFY_OPTIONS = [
    {"label": "In the app", "value": "in_app"},
    {"label": "By e-mail", "value": "email"},
]


def form_ids(prefix: str) -> dict[str, str]:
    """Component ids of the form's fields: ``<prefix>-<field>``."""
    return {name: f"{prefix}-{name.replace('_', '-')}" for name in FIELDS}


def first_values(
    rule: RuleView | None, kpi_key: str | None, unit_key: str | None, owner: int | None
) -> dict[str, Any]:
    """The form's values for ``rule``, or a new rule's defaults."""
    if rule is None:
        return {
            "name": "",
            "kpi": kpi_key,
            "unit": unit_key,
            "condition": Condition.ABOVE.value,
            "threshold": None,
            "clear": None,
            "for_min": 0,
            "window": 3600,
            "severity": AlertSeverity.WARNING.value,
            "mute_from": "",
            "mute_until": "",
            "notify": ["in_app"],
            "channels": [],
            "owner": owner,
            "active": ["active"],
        }
    return {
        "name": rule.name,
        "kpi": rule.kpi_key,
        "unit": rule.unit_key,
        "condition": rule.condition.value,
        "threshold": rule.threshold,
        "clear": rule.clear_threshold,
        "for_min": rule.for_s / 60,
        "window": rule.window_s,
        "severity": rule.severity.value,
        "mute_from": _local(rule.mute_from),
        "mute_until": _local(rule.mute_until),
        "notify": [
            n for n, on in (("in_app", rule.notify_in_app), ("email", rule.notify_email)) if on
        ],
        "channels": list(rule.channel_ids),
        "owner": rule.owner.id if rule.owner else None,
        "active": ["active"] if rule.active else [],
    }


def _local(moment: dt.datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(dt.UTC):%Y-%m-%dT%H:%M}"


LABELS: dict[str, tuple[str, str, int]] = {
    "name": ("Name", "", 12),
    "kpi": ("KPI", "", 6),
    "unit": ("Org unit (the unit and everything below it)", "", 6),
    "condition": ("Condition", "", 6),
    "window": ("Evaluated over the last", "", 6),
    "threshold": ("Alert level", "The value, or the percentage, it fires past.", 4),
    "clear": (
        "Clear level (optional)",
        "It resolves only once back past this level; empty: the alert level.",
        4,
    ),
    "for_min": ("For (minutes)", "How long the condition must hold before it fires.", 4),
    "severity": ("Severity", "", 6),
    "notify": ("Notify", "Everyone who may see the KPI at this unit, and the channels below.", 6),
    "channels": ("Webhook channels", "", 6),
    "owner": ("Owner (their reviews)", "", 6),
    "mute_from": ("Muted from (UTC, optional)", "", 4),
    "mute_until": (
        "Muted until (UTC)",
        "Muted rules keep their state and history but announce nothing.",
        4,
    ),
    "active": ("State", "", 4),
}
"""Each field's label, help text and width (of 12 columns on wide screens)."""
_INDENT = {"company": "", "region": "· ", "country": "· · ", "business_unit": "· · · "}


def owner_options(people: Sequence[Person]) -> list[dict[str, Any]]:
    return [{"label": p.name, "value": p.id} for p in people]


def _options(
    kpis: Sequence[KpiDefinition],
    units: Sequence[Unit],
    channels: Sequence[ChannelRef],
    owners: Sequence[Person],
) -> dict[str, list[dict[str, Any]]]:
    return {
        "kpi": [{"label": k.name, "value": k.key} for k in kpis],
        "unit": [{"label": _INDENT.get(u.level.value, "") + u.name, "value": u.key} for u in units],
        "condition": [{"label": v, "value": k.value} for k, v in CONDITION_LABELS.items()],
        "window": [{"label": v, "value": k} for k, v in WINDOWS.items()],
        "severity": [{"label": s.value.title(), "value": s.value} for s in AlertSeverity],
        "notify": NOTIFY_OPTIONS,
        "channels": [{"label": c.name, "value": c.id} for c in channels],
        "owner": owner_options(owners),
        "active": [{"label": "Active", "value": "active"}],
    }


def _control(field: str, cid: str, value: Any, options: list[dict[str, Any]]) -> Any:
    if field in ("kpi", "unit", "condition", "window", "owner"):
        return dcc.Dropdown(id=cid, options=options, value=value, clearable=field == "owner")
    if field == "severity":
        return dbc.RadioItems(id=cid, options=options, value=value, inline=True)
    if field in ("notify", "channels", "active"):
        inline = field != "channels"
        return dbc.Checklist(
            id=cid, options=options, value=value, inline=inline, switch=field == "active"
        )
    if field in ("threshold", "clear", "for_min"):
        return dbc.Input(id=cid, type="number", value=value, min=0 if field == "for_min" else None)
    if field in ("mute_from", "mute_until"):
        return dbc.Input(id=cid, type="datetime-local", value=value)
    return dbc.Input(id=cid, value=value, maxLength=MAX_NAME)


def rule_form(
    ids: Mapping[str, str],
    values: Mapping[str, Any],
    kpis: Sequence[KpiDefinition],
    units: Sequence[Unit],
    channels: Sequence[ChannelRef],
    owners: Sequence[Person],
) -> dbc.Row:
    """The editor's fields with their first ``values``; KPIs, units (the editor's scope),
    channels and owners as the options."""
    options = _options(kpis, units, channels, owners)
    columns = []
    for field in FIELDS:
        label, help_text, width = LABELS[field]
        if field == "channels" and not channels:
            help_text = "No active channel: an administrator adds them."
        control = _control(field, ids[field], values[field], options.get(field, []))
        parts = [dbc.Label(label, html_for=ids[field], class_name="small mb-0"), control]
        if help_text:
            parts.append(dbc.FormText(help_text))
        columns.append(dbc.Col(parts, xs=12, md=width, class_name="mb-2"))
    return dbc.Row(columns, class_name="g-2")
