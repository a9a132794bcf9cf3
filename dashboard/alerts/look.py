"""How alert states, severities and review states look (icon and word as well as colour), the
alert pages' paths, and a rule's line in words (pure)."""

from __future__ import annotations

from urllib.parse import urlencode

import dash_bootstrap_components as dbc

from dashboard.common.look import Look, look_badge
from ingest.alerts.wording import clear_text, duration, line_text, window_label
from models.alerts.spec import clear_level
from models.alerts.tables import AlertSeverity, AlertState, ReviewState
from models.queries.alerts.rules import RuleView

ALERTS_PATH = "/alerts"
NEW_RULE = "new"
REVIEWS_PATH = "/reviews"

ALERT_STATE_LOOK: dict[AlertState, Look] = {
    AlertState.OK: ("✓", "OK", "success"),
    AlertState.PENDING: ("◔", "Pending", "warning"),
    AlertState.FIRING: ("✗", "Firing", "danger"),
    AlertState.RESOLVED: ("↺", "Resolved", "info"),
}
SEVERITY_LOOK: dict[AlertSeverity, Look] = {
    AlertSeverity.INFO: ("•", "Info", "secondary"),
    AlertSeverity.WARNING: ("⚠", "Warning", "warning"),
    AlertSeverity.CRITICAL: ("‼", "Critical", "danger"),
}
REVIEW_STATE_LOOK: dict[ReviewState, Look] = {
    ReviewState.OPEN: ("●", "Open", "danger"),
    ReviewState.SCHEDULED: ("◷", "Scheduled", "warning"),
    ReviewState.DECIDED: ("✔", "Decided", "success"),
    ReviewState.CLOSED: ("■", "Closed", "secondary"),
}


def alert_state_badge(state: AlertState, *, muted: bool = False) -> dbc.Badge:
    icon, word, color = ALERT_STATE_LOOK[state]
    return look_badge((icon, f"{word} (muted)" if muted else word, color))


def severity_badge(severity: AlertSeverity) -> dbc.Badge:
    return look_badge(SEVERITY_LOOK[severity])


def review_state_badge(state: ReviewState) -> dbc.Badge:
    return look_badge(REVIEW_STATE_LOOK[state])


def rule_href(rule_id: int | str) -> str:
    return f"{ALERTS_PATH}/{rule_id}"


def review_href(review_id: int) -> str:
    return f"{REVIEWS_PATH}/{review_id}"


def kpi_href(kpi_key: str, unit_key: str) -> str:
    return f"/kpi/{kpi_key}?{urlencode({'unit': unit_key})}"


def rule_text(rule: RuleView) -> str:
    """E.g. "Revenue below 1,000.00 EUR over 1 hour for 5 min; clears above 1,100.00 EUR"."""
    fmt, unit = rule.kpi_format, rule.kpi_unit
    clear = clear_level(rule.threshold, rule.clear_threshold)
    held = "" if rule.for_s == 0 else f" for {duration(rule.for_s)}"
    return (
        f"{rule.kpi_name} {line_text(rule.condition, rule.threshold, fmt, unit)} over "
        f"{window_label(rule.window_s)}{held}; {clear_text(rule.condition, clear, fmt, unit)}"
    )
