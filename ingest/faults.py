"""The simulator's fault schedule as data, and pure functions saying which faults are active.

The schedule repeats every ``period_s`` seconds from the simulator's start. Each window names a
fault, the source it hits, when it starts (seconds into the cycle), how long it lasts and its
intensity, whose meaning depends on the fault (see :class:`FaultKind`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    SILENCE = "silence"
    """The source sends nothing (intensity unused): freshness goes stale."""
    MALFORMED = "malformed"
    """This share of records is broken (bad JSON line, wrong type, missing field, out of range)."""
    DUPLICATES = "duplicates"
    """Each batch is sent again this many more times, with the same event ids."""
    DRIFT = "drift"
    """This share of records carries a field outside the contract."""
    SPIKE = "spike"
    """The source's volume is multiplied by this factor."""
    LATE = "late"
    """This share of records is stamped 30 minutes to 3 hours in the past."""


DRIFT_FIELD = "referrer"
"""The field the drift fault adds; no demo contract declares it."""
LATE_RANGE_S = (1_800.0, 10_800.0)


@dataclass(frozen=True, slots=True)
class FaultWindow:
    kind: FaultKind
    source: str
    start_s: float
    duration_s: float
    intensity: float = 1.0

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def describe(self) -> str:
        what = {
            FaultKind.SILENCE: "goes silent",
            FaultKind.MALFORMED: f"sends {self.intensity:.0%} malformed records",
            FaultKind.DUPLICATES: f"re-sends every batch {self.intensity:.0f} more time(s)",
            FaultKind.DRIFT: f"adds field {DRIFT_FIELD!r} to {self.intensity:.0%} of records",
            FaultKind.SPIKE: f"sends {self.intensity:g}x its volume",
            FaultKind.LATE: f"stamps {self.intensity:.0%} of records 0.5-3 h late",
        }[self.kind]
        return (
            f"{self.kind.value:<10} {self.source:<16} {what} "
            f"from {self.start_s:.0f} s for {self.duration_s:.0f} s"
        )


@dataclass(frozen=True, slots=True)
class FaultSchedule:
    windows: tuple[FaultWindow, ...]
    period_s: float

    def __post_init__(self) -> None:
        if self.period_s <= 0:
            raise ValueError("period_s must be positive")
        for window in self.windows:
            if window.start_s < 0 or window.duration_s <= 0 or window.end_s > self.period_s:
                raise ValueError(f"window outside the cycle: {window}")

    def active(self, elapsed_s: float) -> tuple[FaultWindow, ...]:
        """The windows in force ``elapsed_s`` seconds after the start."""
        at = elapsed_s % self.period_s
        return tuple(w for w in self.windows if w.start_s <= at < w.end_s)

    def active_for(self, source: str, elapsed_s: float) -> dict[FaultKind, FaultWindow]:
        return {w.kind: w for w in self.active(elapsed_s) if w.source == source}

    def changes(
        self, before_s: float, after_s: float
    ) -> tuple[tuple[FaultWindow, ...], tuple[FaultWindow, ...]]:
        """(started, ended): windows in force at ``after_s`` but not ``before_s``, and back."""
        before, after = set(self.active(before_s)), set(self.active(after_s))
        order = self.windows.index
        return (
            tuple(sorted(after - before, key=order)),
            tuple(sorted(before - after, key=order)),
        )

    def describe(self) -> list[str]:
        lines = [f"fault schedule, repeating every {self.period_s:.0f} s:"]
        return lines + [f"  {w.describe()}" for w in self.windows]


NO_FAULTS = FaultSchedule((), period_s=3_600.0)

DEFAULT_SCHEDULE = FaultSchedule(
    (
        FaultWindow(FaultKind.MALFORMED, "web_sessions", 60, 60, 0.05),
        FaultWindow(FaultKind.DUPLICATES, "orders", 180, 30, 2),
        FaultWindow(FaultKind.DRIFT, "web_sessions", 270, 240, 0.2),
        FaultWindow(FaultKind.SPIKE, "orders", 540, 60, 5),
        FaultWindow(FaultKind.LATE, "web_sessions", 660, 120, 0.3),
        # Longer than the orders' freshness SLA (300 s), so the data-quality checks notice.
        FaultWindow(FaultKind.SILENCE, "orders", 840, 360),
    ),
    period_s=1_200.0,
)
"""A 20-minute cycle: one fault at a time, the first a minute after start."""
