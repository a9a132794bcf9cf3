"""A KPI's target and its status: the one function every reader of a status calls.

The Overview's tiles and the read API judge a value here, so a change of how targets are set
(for example a target per org unit) is made in :func:`judge` alone. Today the target and the
thresholds are the KPI's own, and the logic is the tiles' (``dashboard.components.tiles``):
additive KPIs (sums, counts) are compared as a rate per day, since their targets are daily.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.components.tiles import Status, Thresholds, comparable_value, kpi_status
from models.queries.common import Period
from models.queries.kpis import KpiDefinition
from models.queries.scope import Unit


@dataclass(frozen=True, slots=True)
class Judgement:
    """What ``value`` was compared with, and the verdict."""

    thresholds: Thresholds
    compared: float | None
    """The value as compared: a rate per day for additive KPIs, else the value itself."""
    per_day: bool
    status: Status


def judge(kpi: KpiDefinition, unit: Unit, period: Period, value: float | None) -> Judgement:
    """The target, thresholds and status of ``kpi`` at ``unit`` over ``period`` for ``value``.

    ``unit`` is not used yet: it is there for targets that differ by org unit.
    """
    del unit  # the same target everywhere, for now
    limits = Thresholds(kpi.direction, kpi.target, kpi.warn_threshold, kpi.crit_threshold)
    additive = kpi.formula.is_additive
    compared = comparable_value(value, additive, period.length)
    return Judgement(limits, compared, additive, kpi_status(compared, limits))
