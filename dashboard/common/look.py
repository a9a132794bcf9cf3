"""How the steward console shows severities, incident states, check states and quality badges:
always an icon and a word as well as a colour, so nothing reads by colour alone."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

import dash_bootstrap_components as dbc
from dash import html

from models.quality.tables import DqState, IncidentStatus, Severity
from models.queries.steward.quality import Badge, QualityLevel

HIDDEN: dict[str, Any] = {"aria-hidden": "true"}
"""Keeps an icon that repeats the word away from screen readers."""

Look = tuple[str, str, str]
"""Icon, word and Bootstrap colour."""

SEVERITY_LOOK: dict[Severity, Look] = {
    Severity.CRITICAL: ("‼", "Critical", "danger"),
    Severity.WARNING: ("⚠", "Warning", "warning"),
}
STATUS_LOOK: dict[IncidentStatus, Look] = {
    IncidentStatus.OPEN: ("●", "Open", "danger"),
    IncidentStatus.ACKNOWLEDGED: ("◐", "Acknowledged", "warning"),
    IncidentStatus.RECOVERED: ("↺", "Recovered", "info"),
    IncidentStatus.RESOLVED: ("✔", "Resolved", "success"),
}
STATE_LOOK: dict[DqState | None, Look] = {
    DqState.OK: ("✓", "OK", "success"),
    DqState.WARNING: ("⚠", "Warning", "warning"),
    DqState.FAILING: ("✗", "Failing", "danger"),
    None: ("○", "Not checked", "secondary"),
}
_DARK_TEXT = {"warning", "info", "light"}

INCIDENTS_PATH = "/steward/incidents"
HEALTH_PATH = "/steward/health"
LINEAGE_PATH = "/steward/lineage"

BADGE_LOOK = {
    QualityLevel.OK: ("✓", "success", None),
    QualityLevel.WARNING: ("⚠", "warning", "dark"),
    QualityLevel.FAILING: ("✗", "danger", None),
}


def look_badge(look: Look, *, title: str | None = None, class_name: str = "") -> dbc.Badge:
    """A badge reading ``icon word`` in the look's colour; ``title`` shows on hover."""
    icon, word, color = look
    return dbc.Badge(
        [html.Span(icon, **HIDDEN), f" {word}"],
        color=color,
        text_color="dark" if color in _DARK_TEXT else None,
        title=title or word,
        class_name=class_name,
    )


def severity_badge(severity: Severity) -> dbc.Badge:
    return look_badge(SEVERITY_LOOK[severity])


def status_badge(status: IncidentStatus) -> dbc.Badge:
    return look_badge(STATUS_LOOK[status])


def state_badge(state: DqState | None, *, title: str | None = None) -> dbc.Badge:
    return look_badge(STATE_LOOK[state], title=title)


def quality_badge(badge: Badge | None) -> dbc.Badge:
    """A source's or KPI's data-quality badge (the KPI page's look), the reasons on hover."""
    if badge is None:
        return look_badge(STATE_LOOK[None], title="No badge: the source is unknown")
    icon, color, _text = BADGE_LOOK[badge.level]
    return look_badge((icon, badge.level.label, color), title=badge.reason)


def when(at: dt.datetime | None) -> str:
    """A moment as the console prints it, in UTC: ``2026-03-02 10:20 UTC`` ("—" for None)."""
    if at is None:
        return "—"
    return f"{at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def incident_href(incident_id: int) -> str:
    return f"{INCIDENTS_PATH}/{incident_id}"


def kpi_page_href(kpi_key: str) -> str:
    """The KPI page (the scope's first unit, the default period)."""
    return f"/kpi/{quote(kpi_key, safe='')}"


def events_href(kpi_key: str) -> str:
    return f"/events?{urlencode({'kpi': kpi_key})}"


def health_href(source_key: str) -> str:
    """The data-health page with ``source_key``'s volume chart chosen."""
    return f"{HEALTH_PATH}?{urlencode({'source': source_key})}"


def queue_href(source_key: str) -> str:
    """The incident queue filtered to one source's unresolved incidents."""
    return f"{INCIDENTS_PATH}?{urlencode({'source': source_key})}"


def refusal(message: str) -> html.Div:
    """What a page layout shows instead of itself when the user may not use it."""
    return html.Div(message, role="alert", className="alert alert-warning")
