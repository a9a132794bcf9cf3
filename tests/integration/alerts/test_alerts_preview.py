"""The 30-day preview counts what a replay of the state machine over the same stored series
counts, and what the data was built to make it count."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import Engine

from ingest.alerts.machine import Snapshot, step
from ingest.alerts.measure import KpiShape, Line
from ingest.alerts.preview import preview, preview_period
from integration.alerts_support import UNIT2, hourly_orders, make_alert_world, principal
from integration.quality_support import PEOPLE, World
from models.alerts.tables import AlertState, Condition
from models.enums import Granularity
from models.queries.executive.definitions import load_kpi
from models.queries.executive.numbers import kpi_series

HOUR = dt.timedelta(hours=1)
RUNS = [150.0] * 3 + [0.0] * 5 + [150.0] * 2 + [0.0] * 5 + [150.0] * 3 + [90.0, 150.0, 70.0]
"""Hourly revenue: three high hours (fires), two (too short), three more (fires), a dip into
the band (90: still firing), high again, then 70 (resolves). Every other hour has none."""


@pytest.fixture
def world(db: Engine) -> World:
    return make_alert_world(db)


def now_and_start() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=10)
    return now, start


def hand_replay(values: list[tuple[dt.datetime, float | None]], line: Line) -> list[dt.datetime]:
    """The machine stepped by hand over (bucket end, judged value): when it started firing."""
    current, fired = Snapshot(AlertState.OK, values[0][0]), []
    for at, value in values:
        made = step(current, value, line.levels, line.hold, at)
        fired += [t.at for t in made.transitions if t.to_state is AlertState.FIRING]
        current = made.now
    return fired


def test_the_preview_counts_the_firings_the_series_was_built_for(world: World, db: Engine) -> None:
    now, start = now_and_start()
    hourly_orders(db, start, RUNS)
    admin = principal(db, PEOPLE.admin)
    line = Line(Condition.ABOVE, 100.0, 80.0, for_s=2 * 3600, window_s=3600)
    with db.connect() as connection:
        kpi = load_kpi(connection, admin, "revenue")
        found = preview(connection, admin, line, kpi, UNIT2, now)
        series = kpi_series(
            connection, admin, kpi, UNIT2, preview_period(Granularity.HOUR, now), Granularity.HOUR
        )

    # Pending at the end of the first high hour, firing two hours later (3rd bucket's end).
    assert found.fired_at == (start + 3 * HOUR, start + 18 * HOUR)
    assert not found.firing_at_end
    # The same stored series, replayed by hand (a sum over a 1-hour window: the bucket's value).
    judged = [(p.end, p.value) for p in series.points[1:]]
    assert hand_replay(judged, line) == list(found.fired_at)
    assert len(judged) == 30 * 24


@pytest.mark.parametrize(
    "line",
    [
        Line(Condition.BELOW, 10.0, 20.0, for_s=0, window_s=3600),
        Line(Condition.CHANGE_PCT, 50.0, None, for_s=0, window_s=3600),
        Line(Condition.OUTSIDE_TARGET_BAND, 20.0, 10.0, for_s=0, window_s=900),
        Line(Condition.ABOVE, 30.0, None, for_s=0, window_s=900),
    ],
    ids=["below", "change", "band", "quarter-hour-window"],
)
def test_the_preview_equals_a_replay_of_the_machine_for_every_condition(
    world: World, db: Engine, line: Line
) -> None:
    now, start = now_and_start()
    hourly_orders(db, start, RUNS)
    admin = principal(db, PEOPLE.admin)
    with db.connect() as connection:
        kpi = load_kpi(connection, admin, "revenue")
        found = preview(connection, admin, line, kpi, UNIT2, now)
        series = kpi_series(
            connection, admin, kpi, UNIT2, preview_period(Granularity.HOUR, now), Granularity.HOUR
        )
    shape = KpiShape(target=2400.0, additive=True)
    points = series.points
    judged = [
        (after.end, _judge(line, shape, after.value, before.value))
        for before, after in itertools.pairwise(points)
    ]
    fired = hand_replay(judged, line)
    assert found.fired == len(fired) > 0
    assert list(found.fired_at) == fired


def _judge(line: Line, kpi: KpiShape, value: float | None, previous: float | None) -> float | None:
    """What each condition compares, written out for an hourly bucket of revenue."""
    if value is None:
        return None
    if line.condition in (Condition.ABOVE, Condition.BELOW):
        return value * line.window_s / 3600  # a sum: brought to the rule's window
    if line.condition is Condition.CHANGE_PCT:
        return None if not previous else (value - previous) / abs(previous) * 100
    assert kpi.target
    return abs(value * 24 - kpi.target) / kpi.target * 100  # a daily rate against the target
