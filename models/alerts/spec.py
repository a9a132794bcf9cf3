"""What a rule says, as the editor submits it, and the checks it must pass (pure).

Every problem is reported at once, in words fit for the person editing the rule; the writes
in :mod:`models.alerts.rules` refuse a spec with any (:class:`RuleInvalid`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from models.alerts.tables import AlertSeverity, Condition
from models.enums import OrgLevel

WINDOWS: dict[int, str] = {
    300: "5 minutes",
    900: "15 minutes",
    3600: "1 hour",
    6 * 3600: "6 hours",
    86_400: "24 hours",
}
"""The evaluation windows offered: the KPI over the last one of these, every evaluation."""
MAX_FOR_S = 7 * 86_400
MAX_NAME = 200
MAX_PERCENT = 10_000.0
MAX_ABS = 1e15
MAX_CHANNELS = 20


class RuleInvalid(ValueError):
    """The spec has problems; ``problems`` lists each, the message joins them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as submitted: the KPI and unit by key, everything else as stored."""

    name: str
    kpi_key: str
    unit_key: str
    condition: Condition
    threshold: float
    clear_threshold: float | None
    for_s: int
    window_s: int
    severity: AlertSeverity
    mute_from: dt.datetime | None = None
    mute_until: dt.datetime | None = None
    notify_in_app: bool = True
    notify_email: bool = False
    channel_ids: tuple[int, ...] = ()
    owner_user_id: int | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class KpiTraits:
    """What of a KPI the checks need."""

    name: str
    target: float | None
    levels: tuple[OrgLevel, ...]


def rises(condition: Condition, threshold: float) -> bool:
    """Whether the rule fires above its threshold (True) or below it (False).

    ``change_pct`` rises for a positive threshold (an increase of more than it) and falls for a
    negative one; ``outside_target_band`` judges the distance from target, which rises.
    """
    if condition is Condition.BELOW:
        return False
    if condition is Condition.CHANGE_PCT:
        return threshold > 0
    return True


def clear_level(threshold: float, clear: float | None) -> float:
    """The level a firing rule must come back past: the clear threshold, else the threshold."""
    return threshold if clear is None else clear


def _number_problems(spec: RuleSpec) -> list[str]:
    found = []
    for label, number in (("alert level", spec.threshold), ("clear level", spec.clear_threshold)):
        if number is not None and (not math.isfinite(number) or abs(number) > MAX_ABS):
            found.append(f"the {label} must be a finite number")
    if found:
        return found
    percent = spec.condition in (Condition.CHANGE_PCT, Condition.OUTSIDE_TARGET_BAND)
    if percent and abs(spec.threshold) > MAX_PERCENT:
        found.append(f"a percentage must lie within ±{MAX_PERCENT:,.0f} %")
    if spec.condition is Condition.CHANGE_PCT and spec.threshold == 0:
        found.append(
            "a change rule needs a non-zero percentage: positive for a rise of more than it, "
            "negative for a fall of more than it"
        )
    if spec.condition is Condition.OUTSIDE_TARGET_BAND and spec.threshold <= 0:
        found.append("the target band must be a positive percentage around the target")
    if spec.clear_threshold is not None:
        found += _clear_problems(spec)
    return found


def _clear_problems(spec: RuleSpec) -> list[str]:
    assert spec.clear_threshold is not None
    if rises(spec.condition, spec.threshold) and spec.clear_threshold > spec.threshold:
        return [
            "the clear level must be at or below the alert level: the alert fires above it "
            "and resolves only once the value falls back below the clear level"
        ]
    if not rises(spec.condition, spec.threshold) and spec.clear_threshold < spec.threshold:
        return [
            "the clear level must be at or above the alert level: the alert fires below it "
            "and resolves only once the value climbs back above the clear level"
        ]
    return []


def _timing_problems(spec: RuleSpec) -> list[str]:
    found = []
    if spec.window_s not in WINDOWS:
        found.append("choose one of the evaluation windows offered")
    if not 0 <= spec.for_s <= MAX_FOR_S:
        found.append("the duration must lie between 0 and 7 days")
    moments = [m for m in (spec.mute_from, spec.mute_until) if m is not None]
    if any(m.tzinfo is None for m in moments):
        found.append("mute times must carry a time zone")
    elif spec.mute_from is not None and spec.mute_until is None:
        found.append("a mute window needs an end")
    elif (
        spec.mute_from is not None
        and spec.mute_until is not None
        and spec.mute_from >= spec.mute_until
    ):
        found.append("the mute window must end after it starts")
    return found


def problems(spec: RuleSpec, kpi: KpiTraits, unit_level: OrgLevel) -> list[str]:
    """Everything wrong with ``spec`` for this KPI at a unit of ``unit_level`` (empty: none)."""
    found = []
    name = spec.name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        found.append(f"the name must be 1 to {MAX_NAME} printable characters")
    if unit_level not in kpi.levels:
        found.append(f"{kpi.name} is not reported at the {unit_level.value} level")
    if spec.condition is Condition.OUTSIDE_TARGET_BAND and not kpi.target:
        found.append(
            f"{kpi.name} has no target, so it has no target band: choose another condition"
        )
    found += _number_problems(spec)
    found += _timing_problems(spec)
    if len(set(spec.channel_ids)) > MAX_CHANNELS:
        found.append(f"a rule may notify at most {MAX_CHANNELS} channels")
    return found


def is_muted(
    mute_from: dt.datetime | None, mute_until: dt.datetime | None, now: dt.datetime
) -> bool:
    """Whether a rule with this mute window is muted at ``now``."""
    if mute_until is None:
        return False
    return (mute_from is None or mute_from <= now) and now < mute_until
