"""The evidence a review keeps: the judged value, the line, and the KPI's series around it.

The series is a snapshot (the rollups behind it may be compacted or pruned later): the KPI
per bucket over 24 windows before the firing (at least 3 hours, at most 7 days), by minute
up to 6 hours and by hour beyond. The lines are drawn in the series' own terms: for additive
KPIs a level over the rule's window is brought to the bucket's length, a daily target to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection

from ingest.alerts.measure import DAY, Line
from models.alerts.tables import Condition
from models.enums import Granularity
from models.facts import BUCKET_WIDTH
from models.permissions import Principal
from models.queries.alerts.rules import RuleView
from models.queries.common import Period, floor_to
from models.queries.executive.definitions import KpiDefinition
from models.queries.executive.numbers import kpi_series

MIN_SPAN = dt.timedelta(hours=3)
MAX_SPAN = dt.timedelta(days=7)
MINUTES_UP_TO = dt.timedelta(hours=6)


def series_period(window: dt.timedelta, now: dt.datetime) -> tuple[Period, Granularity]:
    """The period and bucket size of the evidence series for a rule judged at ``now``."""
    span = min(max(24 * window, MIN_SPAN), MAX_SPAN)
    granularity = Granularity.MINUTE if span <= MINUTES_UP_TO else Granularity.HOUR
    end = floor_to(now, Granularity.MINUTE)
    return Period(floor_to(end - span, granularity), end), granularity


def evidence_lines(line: Line, kpi: KpiDefinition, bucket: dt.timedelta) -> list[dict[str, Any]]:
    """The alert and clear levels (or the target band) as values of one bucket."""
    additive = kpi.formula.is_additive
    levels = line.levels
    if line.condition in (Condition.ABOVE, Condition.BELOW):
        scale = bucket / line.window if additive else 1.0
        lines = [{"name": "Alert level", "value": levels.fire * scale}]
        if levels.clear != levels.fire:
            lines.append({"name": "Clear level", "value": levels.clear * scale})
        return lines
    if line.condition is Condition.OUTSIDE_TARGET_BAND and kpi.target:
        scale = bucket / DAY if additive else 1.0
        band = abs(kpi.target) * line.threshold / 100.0
        return [
            {"name": "Target band (high)", "value": (kpi.target + band) * scale},
            {"name": "Target band (low)", "value": (kpi.target - band) * scale},
        ]
    return []


def gather(
    connection: Connection,
    principal: Principal,
    rule: RuleView,
    kpi: KpiDefinition,
    line: Line,
    judged: float | None,
    values: tuple[float | None, float | None],
    now: dt.datetime,
) -> dict[str, Any]:
    """The evidence of ``rule`` firing at ``now`` on ``judged`` (from the KPI's value and the
    previous window's, ``values``), read as ``principal`` (the rule's unit only)."""
    period, granularity = series_period(line.window, now)
    series = kpi_series(connection, principal, kpi, rule.unit_id, period, granularity)
    return {
        "at": now.isoformat(),
        "condition": rule.condition.value,
        "value": judged,
        "kpi_value": values[0],
        "previous_value": values[1],
        "threshold": line.levels.fire,
        "clear_threshold": line.levels.clear,
        "window_s": rule.window_s,
        "for_s": rule.for_s,
        "unit": rule.unit_name,
        "kpi_name": kpi.name,
        "kpi_format": kpi.format,
        "kpi_unit": kpi.unit,
        "granularity": granularity.value,
        "series": [[p.start.isoformat(), p.value] for p in series.points],
        "lines": evidence_lines(line, kpi, BUCKET_WIDTH[granularity]),
    }
