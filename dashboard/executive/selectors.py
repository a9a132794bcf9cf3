"""The period and scope selectors, and the periods their keys stand for (computed on the server)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import html

from dashboard.executive import summary
from models.enums import Granularity, OrgLevel
from models.queries.common import Period
from models.queries.scope import Unit


@dataclass(frozen=True, slots=True)
class PeriodChoice:
    """A period the user can pick: its key, label and the sparkline's granularity."""

    key: str
    label: str
    granularity: Granularity


PERIOD_CHOICES = (
    PeriodChoice("1h", "Last hour", Granularity.MINUTE),
    PeriodChoice("today", "Today", Granularity.HOUR),
    PeriodChoice("7d", "Last 7 days", Granularity.HOUR),
    PeriodChoice("30d", "Last 30 days", Granularity.DAY),
)
PERIODS = {choice.key: choice for choice in PERIOD_CHOICES}
DEFAULT_PERIOD = "today"
_INDENT = {OrgLevel.COMPANY: 0, OrgLevel.REGION: 1, OrgLevel.COUNTRY: 2, OrgLevel.BUSINESS_UNIT: 3}


def period_choice(key: object) -> PeriodChoice:
    """The choice named by untrusted input. Raises ValueError for anything else."""
    if not isinstance(key, str) or key not in PERIODS:
        raise ValueError(f"unknown period; choose one of {', '.join(PERIODS)}")
    return PERIODS[key]


def period_for(choice: PeriodChoice, now: dt.datetime) -> Period:
    """The UTC period ``choice`` means at ``now``, including the current minute.

    Computed by :func:`dashboard.executive.summary.period_for`, the definition the KPI and events
    pages use, so a tile's number is the number the KPI page shows for the same link.
    """
    return summary.period_for(summary.parse_period_choice(choice.key), now)


def period_selector(component_id: str, value: str) -> dbc.RadioItems:
    """Buttons for the periods of :data:`PERIOD_CHOICES`."""
    return dbc.RadioItems(
        id=component_id,
        options=[{"label": c.label, "value": c.key} for c in PERIOD_CHOICES],
        value=value,
        inline=True,
        className="btn-group flex-wrap",
        inputClassName="btn-check",
        labelClassName="btn btn-outline-primary btn-sm",
        labelCheckedClassName="active",
    )


def unit_label(unit: Unit) -> str:
    """The unit's name, indented by its level so that the list reads as a tree."""
    return "\u2003" * _INDENT[unit.level] + unit.name


def scope_selector(component_id: str, units: Sequence[Unit], value: str | None) -> html.Div:
    """A drop-down of ``units`` (the user's own subtrees, parents before children), by key."""
    if not units:
        return html.Div(
            [
                html.P("No org units are granted to you yet.", className="mb-0"),
                dbc.Select(id=component_id, options=[], value=None, className="d-none"),
            ]
        )
    return html.Div(
        [
            html.Label("Org unit", htmlFor=component_id, className="visually-hidden"),
            dbc.Select(
                id=component_id,
                options=[{"label": unit_label(u), "value": u.key} for u in units],
                value=value,
                size="sm",
            ),
        ]
    )
