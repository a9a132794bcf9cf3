"""Completeness and volume anomalies of a 15-minute window, against a declared or learned volume."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from integration.quality_support import (
    JUDGED,
    NOW,
    ORDERS,
    World,
    latest,
    rows,
    run,
    weeks_before,
    world,
    write_window,
)
from models.quality.tables import CheckKey, DqState
from models.settings import Settings

__all__ = ["world"]  # fixture


def declare_expected(db: Engine, per_window: int) -> None:
    with db.begin() as connection:
        connection.execute(
            text("UPDATE sources SET expected_volume_per_15m = :n WHERE id = :id"),
            {"n": per_window, "id": ORDERS},
        )


def write_history(db: Engine, counts: tuple[int, ...]) -> None:
    """The judged window's counts one, two, … weeks before."""
    for k, n in enumerate(counts, start=1):
        write_window(db, ORDERS, weeks_before(JUDGED, k), n, tag=f"w{k}-")


def orders_incidents(db: Engine) -> list[str]:
    found = rows(
        db,
        "SELECT c.key FROM incidents i JOIN dq_checks c ON c.id = i.check_id "
        "WHERE i.source_id = :s ORDER BY c.key",
        {"s": ORDERS},
    )
    return [r["key"] for r in found]


@pytest.mark.parametrize(
    ("received", "state"),
    [(94, DqState.FAILING), (95, DqState.OK), (96, DqState.OK)],
    ids=["6%-drop-fails", "5%-drop-passes", "4%-drop-passes"],
)
def test_completeness_against_a_declared_volume_fails_on_a_drop_over_5_percent(
    world: World, db: Engine, settings: Settings, received: int, state: DqState
) -> None:
    declare_expected(db, 100)
    write_window(db, ORDERS, JUDGED, received)

    run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.COMPLETENESS)
    assert (result.window_start, result.window_end) == (JUDGED.start, JUDGED.end)
    assert (result.state, result.value, result.threshold) == (state, received, 95.0)
    assert result.context["basis"] == "declared"
    assert ("completeness" in orders_incidents(db)) is (state is DqState.FAILING)
    if state is DqState.FAILING:
        assert result.summary == (
            "94 of 100 expected records in 2026-03-02 10:00-10:15 UTC: "
            "6.0% short (at most 5% allowed)"
        )


@pytest.mark.parametrize(
    ("received", "state"),
    [(94, DqState.FAILING), (96, DqState.OK)],
    ids=["6%-drop-fails", "4%-drop-passes"],
)
def test_completeness_learns_the_volume_from_the_same_window_in_previous_weeks(
    world: World, db: Engine, settings: Settings, received: int, state: DqState
) -> None:
    # One week had an outage in that window: it is left out, not averaged in.
    write_history(db, (100, 0, 100, 100))
    write_window(db, ORDERS, JUDGED, received)

    run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.COMPLETENESS)
    assert result.state is state
    assert (result.context["basis"], result.context["expected"]) == ("learned", 100.0)
    assert result.context["history"] == [100, 0, 100, 100]


@pytest.mark.parametrize(
    ("received", "state"),
    [(90, DqState.OK), (50, DqState.FAILING)],
    ids=["ordinary-variation-passes", "a-real-drop-fails"],
)
def test_a_learned_volume_that_varies_tolerates_its_own_variation(
    world: World, db: Engine, settings: Settings, received: int, state: DqState
) -> None:
    # Median 100, MAD 10: 10 % fewer is within what the previous weeks varied by.
    write_history(db, (80, 100, 120, 100))
    write_window(db, ORDERS, JUDGED, received)

    run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.COMPLETENESS)
    assert result.state is state
    assert result.threshold == pytest.approx(100 - 3 * 1.4826 * 10)


def test_a_declared_volume_stands_in_until_the_volume_is_learned(
    world: World, db: Engine, settings: Settings
) -> None:
    declare_expected(db, 300)  # one figure for every window of the day
    write_history(db, (100, 100, 100, 100))
    write_window(db, ORDERS, JUDGED, 100)

    run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.COMPLETENESS)
    assert result.state is DqState.OK
    assert (result.context["basis"], result.context["expected"]) == ("learned", 100.0)


def test_a_window_expecting_too_few_records_is_not_judged(
    world: World, db: Engine, settings: Settings
) -> None:
    write_history(db, (19, 19, 19, 19))

    run(db, settings, NOW)  # nothing at all in the judged window

    result = latest(db, ORDERS, CheckKey.COMPLETENESS)
    assert result.state is DqState.OK
    assert result.context["skipped"] == "19 expected records are too few to judge a 5% drop"


def test_completeness_is_not_judged_without_enough_history(
    world: World, db: Engine, settings: Settings
) -> None:
    write_history(db, (100, 100))
    write_window(db, ORDERS, JUDGED, 10)

    run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.COMPLETENESS)
    assert result.state is DqState.OK
    assert result.context["skipped"] == "not enough weeks of history to learn the volume"
    assert "completeness" not in orders_incidents(db)


def test_an_anomalous_spike_is_flagged_and_opens_an_incident(
    world: World, db: Engine, settings: Settings
) -> None:
    write_history(db, (100, 104, 97, 101))
    write_window(db, ORDERS, JUDGED, 300)

    run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.VOLUME_ANOMALY)
    assert result.state is DqState.FAILING
    assert result.value is not None
    assert result.value > 5.0
    assert result.summary.startswith("volume spike: 300 records in 2026-03-02 10:00-10:15 UTC")
    assert result.context["median"] == 100.5
    assert "volume_anomaly" in orders_incidents(db)
    # More records than expected is no completeness problem.
    assert latest(db, ORDERS, CheckKey.COMPLETENESS).state is DqState.OK


def test_a_normal_weekly_peak_is_not_flagged(world: World, db: Engine, settings: Settings) -> None:
    # Monday 10:00 is the busy window of every week; the window before it is a quiet one.
    write_history(db, (300, 310, 295, 305))
    write_window(db, ORDERS, JUDGED, 302)
    quiet = JUDGED.shifted(-(JUDGED.end - JUDGED.start))
    for k in range(1, 5):
        write_window(db, ORDERS, weeks_before(quiet, k), 100, tag=f"q{k}-")

    run(db, settings, NOW)

    peak = latest(db, ORDERS, CheckKey.VOLUME_ANOMALY)
    assert peak.state is DqState.OK
    assert abs(peak.value or 0.0) < 1.0
    assert latest(db, ORDERS, CheckKey.COMPLETENESS).state is DqState.OK
    assert {"completeness", "volume_anomaly"}.isdisjoint(orders_incidents(db))


@pytest.mark.parametrize(
    ("received", "state", "word"),
    [(20, DqState.FAILING, "drop"), (140, DqState.WARNING, "spike")],
    ids=["drop-fails", "moderate-spike-warns"],
)
def test_anomalies_are_judged_in_both_directions(
    world: World, db: Engine, settings: Settings, received: int, state: DqState, word: str
) -> None:
    write_history(db, (100, 104, 97, 101))
    write_window(db, ORDERS, JUDGED, received)

    run(db, settings, NOW)

    result = latest(db, ORDERS, CheckKey.VOLUME_ANOMALY)
    assert result.state is state
    assert result.summary.startswith(f"volume {word}: {received} records")
    # A warning shows on the badge but opens no incident.
    assert ("volume_anomaly" in orders_incidents(db)) is (state is DqState.FAILING)
