"""The data-health page's volume chart over more than a week: every window's records counted
once, though the chart then overlaps the history weeks it is compared with."""

from __future__ import annotations

from sqlalchemy import Engine

from integration.quality_support import JUDGED, ORDERS, World, weeks_before, world, write_window
from models.queries.steward.dq_health import volume_band
from models.settings import Settings

__all__ = ["world"]  # fixture


def test_a_chart_longer_than_a_week_counts_each_window_once(
    world: World, db: Engine, settings: Settings
) -> None:
    week_ago = weeks_before(JUDGED, 1)
    write_window(db, ORDERS, weeks_before(JUDGED, 2), 40, tag="w2-")
    write_window(db, ORDERS, week_ago, 50, tag="w1-")
    write_window(db, ORDERS, JUDGED, 60)
    steward = world.principal(db, world.people.steward)

    with db.connect() as connection:
        # A week and a quarter of an hour: from the window a week ago to the judged one.
        points = volume_band(connection, steward, ORDERS, week_ago.start, JUDGED.end, settings)

    received = {p.window: p.received for p in points if p.received}
    assert received == {week_ago: 50, JUDGED: 60}  # not 100 for the window a week ago
    assert sum(p.received for p in points) == 110
