"""What a rule judges: the number its condition compares, computed from the KPI's value over
the window and over the period before it (pure).

- ``above`` / ``below``: the KPI over the window. A value read over another length (a stored
  bucket in the preview) is brought to the window's length when the KPI is additive (sums and
  counts), as the tiles bring additive KPIs to a daily rate.
- ``change_pct``: ``(value - previous) / |previous| * 100``; none when the previous value is
  missing or zero.
- ``outside_target_band``: the distance from the KPI's target in percent of the target,
  additive KPIs as a rate per day (their targets are daily figures, docs/dashboard.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ingest.alerts.machine import Levels
from models.alerts.spec import clear_level, rises
from models.alerts.tables import Condition
from models.queries.alerts.rules import RuleView

DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Line:
    """What of a rule the judgement needs."""

    condition: Condition
    threshold: float
    clear_threshold: float | None
    for_s: int
    window_s: int

    @property
    def levels(self) -> Levels:
        clear = clear_level(self.threshold, self.clear_threshold)
        return Levels(self.threshold, clear, rises(self.condition, self.threshold))

    @property
    def hold(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.for_s)

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.window_s)


def line_of(rule: RuleView) -> Line:
    return Line(rule.condition, rule.threshold, rule.clear_threshold, rule.for_s, rule.window_s)


@dataclass(frozen=True, slots=True)
class KpiShape:
    """What of a KPI the judgement needs: its target and whether it is additive."""

    target: float | None
    additive: bool


def measured(
    line: Line,
    kpi: KpiShape,
    value: float | None,
    previous: float | None,
    length: dt.timedelta,
) -> float | None:
    """The number ``line``'s condition compares, from the KPI's ``value`` over a period of
    ``length`` and ``previous``, its value over the period of that length before; None when
    there is nothing to judge."""
    if value is None:
        return None
    if line.condition in (Condition.ABOVE, Condition.BELOW):
        return value * (line.window / length) if kpi.additive else value
    if line.condition is Condition.CHANGE_PCT:
        if previous is None or previous == 0:
            return None
        return (value - previous) / abs(previous) * 100.0
    if not kpi.target:
        return None
    rate = value * (DAY / length) if kpi.additive else value
    return abs(rate - kpi.target) / abs(kpi.target) * 100.0
