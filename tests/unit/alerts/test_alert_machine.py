"""The alert state machine on a clock the test moves: pending, firing after the duration, no
flapping inside the hysteresis band, resolution, and what a value means per condition."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.alerts.machine import Levels, Snapshot, Step, replay, step
from ingest.alerts.measure import KpiShape, Line, measured
from models.alerts.spec import KpiTraits, RuleSpec, is_muted, problems
from models.alerts.tables import AlertSeverity, AlertState, Condition
from models.enums import OrgLevel

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)
ABOVE_100 = Levels(fire=100.0, clear=90.0, rising=True)
HOLD = dt.timedelta(minutes=2)
OK, PENDING, FIRING, RESOLVED = (
    AlertState.OK,
    AlertState.PENDING,
    AlertState.FIRING,
    AlertState.RESOLVED,
)


class Clock:
    """The evaluation's clock: every 30 s, as the cron job runs it."""

    def __init__(self) -> None:
        self.now = T0

    def tick(self, seconds: int = 30) -> dt.datetime:
        self.now += seconds * S
        return self.now


def run(values: list[float | None], levels: Levels = ABOVE_100, hold: dt.timedelta = HOLD):
    """The states after each value, one evaluation every 30 s from ok."""
    clock, current, states, steps = Clock(), Snapshot(OK, T0), [], []
    for value in values:
        made: Step = step(current, value, levels, hold, clock.tick())
        current = made.now
        states.append(current.state)
        steps.append(made)
    return states, steps


def test_a_breach_is_pending_first_and_fires_once_it_held_for_the_duration() -> None:
    states, steps = run([120, 120, 120, 120, 120])
    # pending at 10:00:30; 2 min later (10:02:30, the 5th evaluation) it fires
    assert states == [PENDING, PENDING, PENDING, PENDING, FIRING]
    assert [s.fired for s in steps] == [False, False, False, False, True]
    assert steps[-1].now.since == T0 + 150 * S


def test_a_breach_shorter_than_the_duration_never_fires() -> None:
    states, _ = run([120, 120, 120, 80, 120, 120, 120])
    assert FIRING not in states
    assert states[3] is OK  # the condition stopped holding: the clock starts again
    assert states[4] is PENDING


def test_a_value_inside_the_hysteresis_band_neither_resolves_nor_refires() -> None:
    # fires at 10:02:30, then wanders between 90 and 100 (the band) and back above
    states, steps = run([120] * 5 + [99, 95, 91, 101, 92, 99.9])
    assert states[4:] == [FIRING] * 7
    assert sum(s.fired for s in steps) == 1  # no flapping: one firing, no resolution
    assert not any(s.resolved for s in steps)


def test_it_resolves_only_past_the_clear_level_and_returns_to_ok() -> None:
    states, steps = run([120] * 5 + [95, 90, 89.9, 89, 89])
    assert states[5:7] == [FIRING, FIRING]  # 95 is inside the band, 90 is not past it
    assert states[7] is RESOLVED
    assert steps[7].resolved
    assert states[8] is RESOLVED  # stays resolved while clear for the duration ...
    assert run([120] * 5 + [80] + [80] * 5)[0][-1] is OK  # ... then ok


def test_a_resolved_rule_that_breaches_again_goes_through_pending_again() -> None:
    states, steps = run([120] * 5 + [80, 120, 120, 120, 120, 120])
    assert states[5] is RESOLVED
    assert states[6] is PENDING
    assert states[-1] is FIRING
    assert sum(s.fired for s in steps) == 2


def test_without_a_duration_the_first_breach_fires_at_once() -> None:
    states, steps = run([120], hold=dt.timedelta(0))
    assert states == [FIRING]
    assert [(t.from_state, t.to_state) for t in steps[0].transitions] == [
        (OK, PENDING),
        (PENDING, FIRING),
    ]


def test_no_value_breaches_nothing_and_clears_nothing() -> None:
    states, _ = run([120, None])
    assert states == [PENDING, OK]
    states, _ = run([120] * 5 + [None, None])
    assert states[-2:] == [FIRING, FIRING]


def test_a_falling_rule_mirrors_a_rising_one() -> None:
    below = Levels(fire=100.0, clear=110.0, rising=False)
    states, _ = run([90] * 5 + [105, 111], below)
    assert states == [PENDING] * 4 + [FIRING, FIRING, RESOLVED]


def test_replay_is_the_same_as_stepping_by_hand() -> None:
    values = [120.0] * 5 + [95.0, 80.0, 80.0]
    moments = [T0 + 30 * (n + 1) * S for n in range(len(values))]
    replayed = replay(zip(moments, values, strict=True), ABOVE_100, HOLD, Snapshot(OK, T0))
    assert [s.now.state for s in replayed] == run(values)[0]


# --- what the machine is given ------------------------------------------------------------------

HOUR = dt.timedelta(hours=1)
ADDITIVE = KpiShape(target=2400.0, additive=True)
RATIO = KpiShape(target=0.5, additive=False)


def line(condition: Condition, threshold: float, clear: float | None = None) -> Line:
    return Line(condition, threshold, clear, for_s=0, window_s=3600)


def test_above_and_below_judge_the_window_value_brought_to_the_window_for_sums() -> None:
    assert measured(line(Condition.ABOVE, 1), ADDITIVE, 50.0, None, HOUR) == 50.0
    # a 15-minute bucket of a sum stands for four times as much over the hour's window
    assert measured(line(Condition.ABOVE, 1), ADDITIVE, 50.0, None, HOUR / 4) == 200.0
    assert measured(line(Condition.BELOW, 1), RATIO, 0.4, None, HOUR / 4) == 0.4


def test_change_is_a_percentage_of_the_previous_period_and_none_without_one() -> None:
    assert measured(line(Condition.CHANGE_PCT, 20), ADDITIVE, 130.0, 100.0, HOUR) == 30.0
    assert measured(line(Condition.CHANGE_PCT, -20), ADDITIVE, 70.0, -100.0, HOUR) == 170.0
    assert measured(line(Condition.CHANGE_PCT, 20), ADDITIVE, 130.0, 0.0, HOUR) is None
    assert line(Condition.CHANGE_PCT, -20).levels.rising is False


def test_the_target_band_compares_sums_as_a_daily_rate() -> None:
    # 110 an hour is 2,640 a day: 10 % over the daily target of 2,400
    assert measured(line(Condition.OUTSIDE_TARGET_BAND, 5), ADDITIVE, 110.0, None, HOUR) == (
        pytest.approx(10.0)
    )
    assert measured(line(Condition.OUTSIDE_TARGET_BAND, 5), RATIO, 0.45, None, HOUR) == (
        pytest.approx(10.0)
    )


# --- the checks a spec must pass -----------------------------------------------------------------

TRAITS = KpiTraits("Revenue", 2400.0, (OrgLevel.COMPANY, OrgLevel.REGION))


def spec(**changes: object) -> RuleSpec:
    base: dict[str, object] = {
        "name": "Revenue drop",
        "kpi_key": "revenue",
        "unit_key": "emea",
        "condition": Condition.BELOW,
        "threshold": 100.0,
        "clear_threshold": 110.0,
        "for_s": 300,
        "window_s": 3600,
        "severity": AlertSeverity.WARNING,
    }
    return RuleSpec(**{**base, **changes})  # type: ignore[arg-type]


def test_a_sound_spec_has_no_problems() -> None:
    assert problems(spec(), TRAITS, OrgLevel.REGION) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"clear_threshold": 90.0}, "clear level must be at or above the alert level"),
        (
            {"condition": Condition.ABOVE, "clear_threshold": 120.0},
            "clear level must be at or below the alert level",
        ),
        ({"condition": Condition.CHANGE_PCT, "threshold": 0.0}, "non-zero percentage"),
        ({"threshold": float("nan")}, "alert level must be a finite number"),
        ({"window_s": 7}, "evaluation windows offered"),
        ({"for_s": -1}, "between 0 and 7 days"),
        ({"name": "  "}, "the name must be 1 to 200"),
        ({"mute_from": T0}, "a mute window needs an end"),
        ({"mute_from": T0, "mute_until": T0}, "must end after it starts"),
    ],
)
def test_each_problem_is_named(changes: dict[str, object], expected: str) -> None:
    found = problems(spec(**changes), TRAITS, OrgLevel.REGION)
    assert any(expected in p for p in found), found


def test_a_kpi_without_target_has_no_band_and_levels_are_respected() -> None:
    no_target = KpiTraits("Tickets", None, (OrgLevel.COMPANY,))
    found = problems(
        spec(condition=Condition.OUTSIDE_TARGET_BAND, threshold=5.0, clear_threshold=None),
        no_target,
        OrgLevel.REGION,
    )
    assert "Tickets has no target, so it has no target band: choose another condition" in found
    assert "Tickets is not reported at the region level" in found


def test_a_mute_window_mutes_from_its_start_until_its_end() -> None:
    until = T0 + HOUR
    assert is_muted(None, until, T0)
    assert not is_muted(None, until, until)
    assert not is_muted(T0 + S, until, T0)
    assert is_muted(T0 + S, until, T0 + S)
    assert not is_muted(None, None, T0)
