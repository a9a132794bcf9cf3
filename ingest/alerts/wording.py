"""How alerts are put in words: a rule's line, a value in the KPI's format (pure)."""

from __future__ import annotations

from models.alerts.spec import WINDOWS
from models.alerts.tables import Condition


def format_value(value: float | None, fmt: str, unit: str = "") -> str:
    """``value`` in the KPI's format spec (e.g. ``,.2f``) and unit; "—" for no value."""
    if value is None:
        return "—"
    try:
        text = format(value, fmt)
    except (TypeError, ValueError):
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def window_label(window_s: int) -> str:
    return WINDOWS.get(window_s, f"{window_s} s")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} %"


def duration(seconds: int) -> str:
    """``0`` → "at once", else the largest whole unit: "90 s", "5 min", "2 h", "1 d"."""
    if seconds <= 0:
        return "at once"
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "min")):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def line_text(condition: Condition, threshold: float, fmt: str, unit: str) -> str:
    """The line a rule draws, e.g. "below 1,000.00 EUR" or "up more than 20.0 %"."""
    if condition is Condition.ABOVE:
        return f"above {format_value(threshold, fmt, unit)}"
    if condition is Condition.BELOW:
        return f"below {format_value(threshold, fmt, unit)}"
    if condition is Condition.CHANGE_PCT:
        way = "up" if threshold > 0 else "down"
        return f"{way} more than {percent(abs(threshold))} on the period before"
    return f"more than {percent(threshold)} off target"


def clear_text(condition: Condition, clear: float, fmt: str, unit: str) -> str:
    """Where the rule clears, e.g. "clears below 900.00 EUR"."""
    if condition is Condition.ABOVE:
        return f"clears below {format_value(clear, fmt, unit)}"
    if condition is Condition.BELOW:
        return f"clears above {format_value(clear, fmt, unit)}"
    if condition is Condition.CHANGE_PCT:
        return f"clears past a change of {percent(clear)}"
    return f"clears within {percent(clear)} of target"


def judged_text(condition: Condition, value: float | None, fmt: str, unit: str) -> str:
    """The judged number as shown: the KPI's value, or a percentage for the percent rules."""
    if condition in (Condition.ABOVE, Condition.BELOW):
        return format_value(value, fmt, unit)
    if condition is Condition.CHANGE_PCT:
        return "—" if value is None else f"{value:+,.1f} %"
    return "—" if value is None else f"{value:,.1f} % off target"
