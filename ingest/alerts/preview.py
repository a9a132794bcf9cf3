"""The 30-day preview: how often a rule would have fired, replaying the state machine over
the KPI's stored series.

The series is read by hour (by day when the KPI's default granularity is days), whole
buckets only, as the principal editing the rule (so only a unit in their scope). Each bucket
is one evaluation at its end: its value (brought to the rule's window for additive KPIs),
the bucket before it as the previous period. So the preview judges at the bucket's
resolution: a rule that evaluates every 30 s on a 5-minute window may fire on spikes the
hourly buckets smooth out, and a duration shorter than a bucket counts as one bucket.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from ingest.alerts.machine import Snapshot, Step, replay
from ingest.alerts.measure import KpiShape, Line, measured
from models.alerts.tables import AlertState
from models.enums import Granularity
from models.facts import BUCKET_WIDTH
from models.permissions import Principal
from models.queries.common import Period, floor_to
from models.queries.executive.definitions import KpiDefinition
from models.queries.executive.numbers import SeriesPoint, kpi_series

PREVIEW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Preview:
    """What the rule would have done over ``period``."""

    period: Period
    granularity: Granularity
    judged: tuple[tuple[dt.datetime, float | None], ...]
    """Each evaluation: the bucket's end and the number the condition compared."""
    fired_at: tuple[dt.datetime, ...]
    """When it would have started firing, oldest first."""
    firing_at_end: bool

    @property
    def fired(self) -> int:
        return len(self.fired_at)


def preview_granularity(kpi: KpiDefinition) -> Granularity:
    return Granularity.DAY if kpi.default_granularity is Granularity.DAY else Granularity.HOUR


def preview_period(granularity: Granularity, now: dt.datetime) -> Period:
    """The last 30 days of whole buckets, and one bucket before them (the first's previous)."""
    end = floor_to(now, granularity)
    start = floor_to(end - dt.timedelta(days=PREVIEW_DAYS), granularity)
    return Period(start - BUCKET_WIDTH[granularity], end)


def judged_points(
    points: Sequence[SeriesPoint], line: Line, kpi: KpiShape
) -> list[tuple[dt.datetime, float | None]]:
    """One evaluation per bucket but the first (it is only the second's previous period)."""
    return [
        (point.end, measured(line, kpi, point.value, before.value, point.end - point.start))
        for before, point in itertools.pairwise(points)
    ]


def fired_at(steps: Sequence[Step]) -> tuple[dt.datetime, ...]:
    return tuple(t.at for s in steps for t in s.transitions if t.to_state is AlertState.FIRING)


def preview(
    connection: Connection,
    principal: Principal,
    line: Line,
    kpi: KpiDefinition,
    unit_id: int,
    now: dt.datetime,
) -> Preview:
    """Replay ``line`` over the KPI's last 30 days at the unit (see the module).

    Raises:
        AccessDenied: missing ``kpi:view`` or the unit is out of the principal's scope.
    """
    granularity = preview_granularity(kpi)
    period = preview_period(granularity, now)
    series = kpi_series(connection, principal, kpi, unit_id, period, granularity)
    judged = judged_points(series.points, line, KpiShape(kpi.target, kpi.formula.is_additive))
    start = Snapshot(AlertState.OK, judged[0][0] if judged else period.start)
    steps = replay(judged, line.levels, line.hold, start)
    last = steps[-1].now.state if steps else AlertState.OK
    return Preview(
        period=Period(period.start + BUCKET_WIDTH[granularity], period.end),
        granularity=granularity,
        judged=tuple(judged),
        fired_at=fired_at(steps),
        firing_at_end=last is AlertState.FIRING,
    )
