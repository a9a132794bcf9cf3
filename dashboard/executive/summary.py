"""Page parameters (periods, granularity, keys) and the plain-language KPI summary (pure)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from models.enums import Direction, Granularity
from models.judging import Status
from models.queries.common import Period


class PeriodChoice(StrEnum):
    """The periods the KPI and events pages offer (query parameter ``period``)."""

    LAST_HOUR = "1h"
    TODAY = "today"
    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"


DEFAULT_PERIOD = PeriodChoice.LAST_7_DAYS
PERIOD_LABELS = {
    PeriodChoice.LAST_HOUR: "Last hour",
    PeriodChoice.TODAY: "Today",
    PeriodChoice.LAST_7_DAYS: "Last 7 days",
    PeriodChoice.LAST_30_DAYS: "Last 30 days",
}
PREVIOUS_LABELS = {
    PeriodChoice.LAST_HOUR: "the previous hour",
    PeriodChoice.TODAY: "the same hours before midnight",
    PeriodChoice.LAST_7_DAYS: "the previous 7 days",
    PeriodChoice.LAST_30_DAYS: "the previous 30 days",
}
AUTO = "auto"
_LENGTHS = {
    PeriodChoice.LAST_HOUR: dt.timedelta(hours=1),
    PeriodChoice.LAST_7_DAYS: dt.timedelta(days=7),
    PeriodChoice.LAST_30_DAYS: dt.timedelta(days=30),
}
MAX_KEY_LENGTH = 100
FLAT_PERCENT = 0.05
"""Changes smaller than this (in %) are called flat."""


def parse_period_choice(value: object) -> PeriodChoice:
    """The period named by untrusted input; the default for None; ValueError otherwise."""
    if value is None or value == "":
        return DEFAULT_PERIOD
    if isinstance(value, str):
        for choice in PeriodChoice:
            if value == choice.value:
                return choice
    raise ValueError("period must be one of " + ", ".join(c.value for c in PeriodChoice))


def checked_key(value: object, what: str) -> str:
    """A short printable key (of a KPI, unit or source) from untrusted input; else ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"a {what} must be given by its key")
    key = value.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValueError(f"a {what} key must be 1 to {MAX_KEY_LENGTH} printable characters")
    return key


def parse_granularity(value: object) -> Granularity | None:
    """A chosen granularity, or None for automatic; ValueError for anything else."""
    if value is None or value == AUTO:
        return None
    if isinstance(value, str):
        for granularity in Granularity:
            if value == granularity.value:
                return granularity
    raise ValueError("granularity must be auto, minute, hour or day")


def period_for(choice: PeriodChoice, now: dt.datetime) -> Period:
    """The period ``choice`` names at ``now`` (UTC; "today" starts at UTC midnight)."""
    now = now.astimezone(dt.UTC)
    if choice is PeriodChoice.TODAY:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Period.covering(start, max(now, start + dt.timedelta(minutes=1)))
    return Period.covering(now - _LENGTHS[choice], now)


def auto_granularity(period: Period) -> Granularity:
    """Minutes up to 3 hours, hours up to 8 days, days beyond: 60 to 200 points a chart."""
    if period.length <= dt.timedelta(hours=3):
        return Granularity.MINUTE
    if period.length <= dt.timedelta(days=8):
        return Granularity.HOUR
    return Granularity.DAY


def format_value(value: float | None, fmt: str, unit: str = "") -> str:
    """``value`` in the KPI's format spec (e.g. ``,.2f``) and unit; "—" for no value."""
    if value is None:
        return "—"
    try:
        text = format(value, fmt)
    except (TypeError, ValueError):
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


@dataclass(frozen=True, slots=True)
class UnitChange:
    """A child unit's value now and in the previous period."""

    name: str
    value: float | None
    previous: float | None


@dataclass(frozen=True, slots=True)
class SummaryInput:
    """Everything the summary says something about."""

    kpi_name: str
    value: float | None
    previous: float | None
    direction: Direction
    previous_label: str
    fmt: str = ",.2f"
    unit: str = ""
    target: float | None = None
    """The unit's own target for the period (already pro-rated), None when it has none."""
    target_text: str = ""
    """Where the target comes from, or why there is none (``models.target_rules.Target``)."""
    status: Status | None = None
    """The value judged against the target (``models.judging.judge``)."""
    children: Sequence[UnitChange] = ()
    late_sources: Sequence[str] | None = None
    """Names of sources behind their freshness SLA; None when freshness is unknown."""
    quality_reasons: Sequence[str] | None = None
    """The data-quality badge's reasons (empty when ok); when given, it replaces
    ``late_sources`` as what the summary says about the data."""


def percent_change(value: float | None, previous: float | None) -> float | None:
    """Change from ``previous`` to ``value`` in %; None when either is missing or previous 0."""
    if value is None or previous is None or previous == 0:
        return None
    change = (value - previous) / abs(previous) * 100
    return change if math.isfinite(change) else None


def leader(children: Sequence[UnitChange], rising: bool) -> str | None:
    """The child whose value moved most in the direction of the whole's change."""
    moves = [
        (c.value - c.previous, c.name)
        for c in children
        if c.value is not None and c.previous is not None
    ]
    moves = [(delta, name) for delta, name in moves if (delta > 0 if rising else delta < 0)]
    if not moves:
        return None
    return (max(moves) if rising else min(moves))[1]


def _trend_sentence(data: SummaryInput) -> str:
    shown = format_value(data.value, data.fmt, data.unit)
    change = percent_change(data.value, data.previous)
    if change is None:
        return (
            f"{data.kpi_name} is {shown}; there is no value for {data.previous_label} "
            "to compare with."
        )
    if abs(change) < FLAT_PERCENT:
        return f"{data.kpi_name} is flat on {data.previous_label} at {shown}."
    rising = change > 0
    good = rising == (data.direction is Direction.HIGHER_IS_BETTER)
    word = "up" if rising else "down"
    sentence = f"{data.kpi_name} is {word} {abs(change):.1f} % on {data.previous_label} at {shown}"
    led_by = leader(data.children, rising)
    if led_by is not None:
        sentence += f", led by {led_by}"
    return sentence + (" (an improvement)." if good else " (a deterioration).")


def _target_sentence(data: SummaryInput) -> str | None:
    if data.value is None or data.status is None:
        return None
    if data.target is None:
        return f"It has no target here: {data.target_text}." if data.target_text else None
    target = f"{format_value(data.target, data.fmt, data.unit)} ({data.target_text})"
    if data.status is Status.ON_TARGET:
        return f"It meets its target of {target}."
    if data.status is Status.CRITICAL:
        return f"It misses its target of {target}, past the critical level."
    return f"It misses its target of {target}."


def _freshness_sentence(
    late: Sequence[str] | None, quality: Sequence[str] | None = None
) -> str | None:
    if quality is not None:
        if not quality:
            return "Data is fresh and complete."
        return f"Take care with the data: {'; '.join(quality)}."
    if late is None:
        return None
    if not late:
        return "Data is fresh."
    return f"Data from {', '.join(late)} is late against its freshness SLA."


def summarize(data: SummaryInput) -> str:
    """A short plain-language summary, e.g. "Revenue is up 4.2 % on the previous 7 days at
    1,234.00 EUR, led by EMEA (an improvement). Data is fresh."."""
    if data.value is None:
        sentences: list[str | None] = [f"There is no {data.kpi_name} value for this period."]
    else:
        sentences = [_trend_sentence(data), _target_sentence(data)]
    sentences.append(_freshness_sentence(data.late_sources, data.quality_reasons))
    return " ".join(s for s in sentences if s)
