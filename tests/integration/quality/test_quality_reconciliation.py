"""Reconciliation: a tampered rollup row (any of the three tables) is caught, critically, and
stays caught until it is repaired; work is bounded by watermarks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text

from integration.factories import require_native
from integration.quality_support import (
    ORDERS,
    TICKETS,
    World,
    latest,
    rows,
    run,
    world,
    write_window,
)
from models.quality.tables import CheckKey, DqState, Severity
from models.quality.windows import Window
from models.settings import Settings

__all__ = ["world"]  # fixture

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
FIRST = dt.datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
LOOKBACK = dt.timedelta(hours=6)
MIN = dt.timedelta(minutes=1)

TAMPERING = {
    # table: (corrupting statement, repairing statement, what the difference shows)
    "rollup_1m": (
        "UPDATE rollup_1m SET total = total + 1 "
        "WHERE metric_id = 3 AND bucket = '2026-03-02 21:00+00'",
        "UPDATE rollup_1m SET total = total - 1 "
        "WHERE metric_id = 3 AND bucket = '2026-03-02 21:00+00'",
        "rollup_1m at 2026-03-02 21:00 UTC, metric 3, unit 2",
    ),
    "rollup_1h": (
        "UPDATE rollup_1h SET n = n + 1 WHERE metric_id = 1 AND bucket = '2026-03-02 22:00+00'",
        "UPDATE rollup_1h SET n = n - 1 WHERE metric_id = 1 AND bucket = '2026-03-02 22:00+00'",
        "rollup_1h at 2026-03-02 22:00 UTC, metric 1, unit 2",
    ),
    "rollup_1d": (
        "UPDATE rollup_1d SET max_v = max_v * 2 WHERE metric_id = 3 AND bucket = '2026-03-02+00'",
        "UPDATE rollup_1d SET max_v = max_v / 2 WHERE metric_id = 3 AND bucket = '2026-03-02+00'",
        "rollup_1d at 2026-03-02 00:00 UTC, metric 3, unit 2",
    ),
}


@pytest.fixture
def history(world: World, db: Engine) -> None:
    """Ten orders and ten tickets in every 15-minute window from 20:00 to 01:45."""
    require_native(db)
    start = FIRST
    while start < NOW - 15 * MIN:
        window_end = start + 15 * MIN
        for source in (ORDERS, TICKETS):
            write_window(db, source, Window(start, window_end), 10)
        start = window_end


def execute(db: Engine, statement: str) -> None:
    with db.begin() as connection:
        assert connection.execute(text(statement)).rowcount == 1


def reconciliation_incidents(db: Engine) -> list[dict[str, object]]:
    return rows(
        db,
        "SELECT i.id, CAST(i.severity AS text) AS severity, CAST(i.status AS text) AS status "
        "FROM incidents i JOIN dq_checks c ON c.id = i.check_id WHERE c.key = 'reconciliation' "
        "AND i.source_id = :s",
        {"s": ORDERS},
    )


def test_untouched_rollups_match_and_each_range_is_compared_once(
    history: None, db: Engine, settings: Settings
) -> None:
    run(db, settings, NOW, reconcile_lookback=LOOKBACK)

    result = latest(db, ORDERS, CheckKey.RECONCILIATION)
    assert result.state is DqState.OK
    compared = {c["table"]: (c["start"], c["end"]) for c in result.context["compared"]}
    assert compared == {
        "minute": ("2026-03-02T20:00:00+00:00", "2026-03-03T01:45:00+00:00"),
        "hour": ("2026-03-02T20:00:00+00:00", "2026-03-03T01:00:00+00:00"),
        "day": ("2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00"),
    }
    # Orders feed 3 metrics: 23 windows of 10 minute buckets, 5 hours, 1 day.
    assert result.summary == "708 rollup rows match the raw events"
    marks = rows(
        db,
        "SELECT CAST(granularity AS text) AS g, reconciled_through AS t FROM dq_watermarks "
        "WHERE source_id = :s ORDER BY 1",
        {"s": ORDERS},
    )
    assert {m["g"]: m["t"] for m in marks} == {
        "day": dt.datetime(2026, 3, 3, tzinfo=UTC),
        "hour": dt.datetime(2026, 3, 3, 1, tzinfo=UTC),
        "minute": dt.datetime(2026, 3, 3, 1, 45, tzinfo=UTC),
    }

    # A minute later nothing new has closed: nothing is compared again.
    results = (
        "SELECT r.id, r.at FROM dq_results r JOIN dq_checks c ON c.id = r.check_id "
        "WHERE c.key = 'reconciliation' ORDER BY r.id"
    )
    before = rows(db, results)
    run(db, settings, NOW + MIN, reconcile_lookback=LOOKBACK)
    assert rows(db, results) == before


@pytest.mark.parametrize("table", sorted(TAMPERING))
def test_a_tampered_rollup_row_is_caught_until_it_is_repaired(
    history: None, db: Engine, settings: Settings, table: str
) -> None:
    corrupt, repair, where = TAMPERING[table]
    execute(db, corrupt)

    report = run(db, settings, NOW, reconcile_lookback=LOOKBACK)

    result = latest(db, ORDERS, CheckKey.RECONCILIATION)
    assert result.state is DqState.FAILING
    assert result.value == 1.0
    assert result.summary == f"1 rollup row(s) differ from the raw events (first: {where})"
    (difference,) = result.context["differences"]
    assert difference["table"] == table
    assert difference["want"] != difference["have"]
    assert latest(db, TICKETS, CheckKey.RECONCILIATION).state is DqState.OK
    (incident,) = reconciliation_incidents(db)
    assert incident["severity"] == Severity.CRITICAL.value
    assert incident["id"] in report.incidents.opened

    # The next window closes: the differing range is compared again and still differs.
    run(db, settings, NOW + 15 * MIN, reconcile_lookback=LOOKBACK)
    assert latest(db, ORDERS, CheckKey.RECONCILIATION).state is DqState.FAILING

    execute(db, repair)
    run(db, settings, NOW + 30 * MIN, reconcile_lookback=LOOKBACK)

    assert latest(db, ORDERS, CheckKey.RECONCILIATION).state is DqState.OK
    (incident,) = reconciliation_incidents(db)
    assert incident["status"] == "recovered"


def test_a_missing_rollup_row_is_a_difference(
    history: None, db: Engine, settings: Settings
) -> None:
    execute(db, "DELETE FROM rollup_1h WHERE metric_id = 4 AND bucket = '2026-03-02 23:00+00'")

    run(db, settings, NOW, reconcile_lookback=LOOKBACK)

    result = latest(db, ORDERS, CheckKey.RECONCILIATION)
    (difference,) = result.context["differences"]
    assert difference["have"] is None
    assert difference["want"]["n"] == 40
