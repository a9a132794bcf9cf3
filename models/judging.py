"""Judging a KPI value against its target: the one function the pages and the API call (pure).

The target is the unit's own for the range shown (:func:`models.queries.targets.target_for`,
already pro-rated); its warning and critical levels are percentages of it. A unit without a
target gets no status at all ("no target"), never one judged against someone else's number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.enums import Direction
from models.target_rules import Target


class Status(StrEnum):
    ON_TARGET = "on target"
    WARNING = "warning"
    CRITICAL = "critical"
    NO_TARGET = "no target"
    NO_DATA = "no data"


@dataclass(frozen=True, slots=True)
class Judgement:
    """The status and the absolute levels it was judged by (None where not set), with the
    target's explanation (where it comes from, or why there is none)."""

    status: Status
    target: float | None
    warn: float | None
    crit: float | None
    explanation: str


def level(target: float, pct: float) -> float:
    """``pct`` % of ``target``, measured from the target by its size so that a negative
    target moves the same way (95 % of -100 is -105)."""
    return target + (pct / 100 - 1) * abs(target)


def judge(value: float | None, target: Target | None, direction: Direction) -> Judgement:
    """The status of ``value`` against ``target``.

    Higher-is-better KPIs are critical below the critical level, a warning below the warning
    level (the target itself when the plan sets none), else on target; lower-is-better ones
    likewise above their levels. No target: ``NO_TARGET``; no value: ``NO_DATA``.
    """
    if target is None or target.value is None:
        text = target.text if target is not None else "no target"
        return Judgement(Status.NO_TARGET, None, None, None, text)
    goal = target.value
    warn = level(goal, target.warn_pct) if target.warn_pct is not None else goal
    crit = level(goal, target.crit_pct) if target.crit_pct is not None else None
    if value is None:
        return Judgement(Status.NO_DATA, goal, warn, crit, target.text)
    sign = 1.0 if direction is Direction.HIGHER_IS_BETTER else -1.0
    if crit is not None and sign * value < sign * crit:
        status = Status.CRITICAL
    elif sign * value < sign * warn:
        status = Status.WARNING
    else:
        status = Status.ON_TARGET
    return Judgement(status, goal, warn, crit, target.text)
