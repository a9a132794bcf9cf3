"""The alert state machine, pure: ``ok → pending → firing → resolved → ok``.

Nothing here reads a clock or a database: every step is given the moment it happens (the
evaluation job passes the wall clock, the preview the end of each stored bucket, tests
whatever they like), so a replay over stored values is exactly what evaluation would do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.alerts.tables import AlertState


@dataclass(frozen=True, slots=True)
class Levels:
    """Where a rule fires and where it clears (hysteresis).

    A rising rule fires once the value is above ``fire`` and, firing, resolves only once the
    value is below ``clear`` (``clear <= fire``); a falling rule mirrors it. A value between
    the two levels changes nothing, so a noisy value near the line does not flap. No value
    (None) neither breaches nor clears.
    """

    fire: float
    clear: float
    rising: bool

    def breached(self, value: float | None) -> bool:
        if value is None:
            return False
        return value > self.fire if self.rising else value < self.fire

    def cleared(self, value: float | None) -> bool:
        if value is None:
            return False
        return value < self.clear if self.rising else value > self.clear


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A rule's state and the moment it entered it."""

    state: AlertState
    since: dt.datetime


@dataclass(frozen=True, slots=True)
class Transition:
    at: dt.datetime
    from_state: AlertState
    to_state: AlertState


@dataclass(frozen=True, slots=True)
class Step:
    """The state after one evaluation and the transitions that led there (often none)."""

    now: Snapshot
    transitions: tuple[Transition, ...]

    @property
    def fired(self) -> bool:
        return any(t.to_state is AlertState.FIRING for t in self.transitions)

    @property
    def resolved(self) -> bool:
        return any(t.to_state is AlertState.RESOLVED for t in self.transitions)


def _moves(current: Snapshot, states: Sequence[AlertState], at: dt.datetime) -> Step:
    transitions, before = [], current.state
    for state in states:
        transitions.append(Transition(at, before, state))
        before = state
    return Step(Snapshot(before, at), tuple(transitions))


def step(
    current: Snapshot, value: float | None, levels: Levels, hold: dt.timedelta, at: dt.datetime
) -> Step:
    """Judge ``value`` at ``at``; the new state and what changed.

    - ok or resolved, breached: pending (and firing at once when ``hold`` is zero);
    - pending: back to ok when the condition no longer holds, firing once it has held for
      ``hold`` (since the rule became pending);
    - firing: resolved once the value is past the clear level, else still firing;
    - resolved: ok once it stayed clear for ``hold`` (at least one evaluation).
    """
    state, held = current.state, at - current.since
    breached = levels.breached(value)
    if state in (AlertState.OK, AlertState.RESOLVED) and breached:
        if hold <= dt.timedelta(0):
            return _moves(current, (AlertState.PENDING, AlertState.FIRING), at)
        return _moves(current, (AlertState.PENDING,), at)
    if state is AlertState.PENDING:
        if not breached:
            return _moves(current, (AlertState.OK,), at)
        if held >= hold:
            return _moves(current, (AlertState.FIRING,), at)
    elif state is AlertState.FIRING:
        if levels.cleared(value):
            return _moves(current, (AlertState.RESOLVED,), at)
    elif state is AlertState.RESOLVED and held >= hold:
        return _moves(current, (AlertState.OK,), at)
    return Step(current, ())


def replay(
    values: Iterable[tuple[dt.datetime, float | None]],
    levels: Levels,
    hold: dt.timedelta,
    start: Snapshot,
) -> list[Step]:
    """Every step of the machine over ``(moment, value)`` pairs in time order, from ``start``."""
    steps, current = [], start
    for at, value in values:
        made = step(current, value, levels, hold, at)
        steps.append(made)
        current = made.now
    return steps
