"""Which target applies to a unit over a time range, and why (pure: no database).

The reads (:mod:`models.queries.targets`) gather a :class:`PlanBook`: the unit and its
ancestors, their plans touching the range, and the shares the ``share`` rule needs. Here the
range is cut at month boundaries (every plan period is whole months); each month's target is
the unit's own finest plan (month before quarter before year), else what its parent's target
passes down by the rule of the plan it came from. The range's target is the months' targets
pro-rated by time for additive KPIs (sums, counts) and their time-weighted mean for others
(ratios, averages). ``docs/targets.md`` explains the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from models.enums import TargetAllocation, TargetGrain
from models.target_periods import MONTHS, add_months, period_end

_GRAIN_WORD = {
    TargetGrain.MONTH: "monthly",
    TargetGrain.QUARTER: "quarterly",
    TargetGrain.YEAR: "yearly",
}


class TargetBasis(StrEnum):
    """What a target rests on: the unit's own plan, a split of its parent's, or nothing."""

    OWN = "own"
    EQUAL = "equal"
    SHARE = "share"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PlanRow:
    """A stored plan of one unit (``models.targets.TargetPlan``)."""

    unit_id: int
    grain: TargetGrain
    start: dt.date
    value: float
    allocation: TargetAllocation = TargetAllocation.EXPLICIT
    warn_pct: float | None = None
    crit_pct: float | None = None

    @property
    def end(self) -> dt.date:
        return period_end(self.grain, self.start)


@dataclass(frozen=True, slots=True)
class ChainUnit:
    """A unit of the chain; ``children`` is how many active children share its target
    equally."""

    id: int
    name: str
    children: int = 0


@dataclass(frozen=True, slots=True)
class PlanBook:
    """Everything a resolution needs.

    Args:
        chain: the unit first, then its parent, up to the top of the organisation.
        shares: (child unit id, start of the plan being split) → the child's share of its
            parent's KPI value over the year before that start; None when there is no history.
    """

    chain: tuple[ChainUnit, ...]
    plans: tuple[PlanRow, ...]
    additive: bool
    default_warn_pct: float | None = None
    default_crit_pct: float | None = None
    shares: Mapping[tuple[int, dt.date], float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target:
    """The target over a time range, the rule that produced it and its relative levels.

    ``value`` is None when there is no target; ``text`` then says why. Otherwise ``text``
    says where the value comes from, e.g. "EMEA's own monthly plan, pro-rated".
    """

    value: float | None
    basis: TargetBasis
    text: str
    warn_pct: float | None = None
    crit_pct: float | None = None


@dataclass(frozen=True, slots=True)
class _Piece:
    value: float
    basis: TargetBasis
    text: str
    allocation: TargetAllocation
    origin_start: dt.date
    warn_pct: float | None
    crit_pct: float | None


def _own_plan(book: PlanBook, unit_id: int, month: dt.date) -> PlanRow | None:
    covering = [p for p in book.plans if p.unit_id == unit_id and p.start <= month < p.end]
    return min(covering, key=lambda p: MONTHS[p.grain], default=None)


def _month_days(month: dt.date) -> int:
    return (add_months(month, 1) - month).days


def _own_piece(book: PlanBook, plan: PlanRow, name: str, month: dt.date) -> _Piece:
    value = plan.value
    if book.additive and plan.grain is not TargetGrain.MONTH:
        value = plan.value * _month_days(month) / (plan.end - plan.start).days
    return _Piece(
        value,
        TargetBasis.OWN,
        f"{name}'s own {_GRAIN_WORD[plan.grain]} plan",
        plan.allocation,
        plan.start,
        plan.warn_pct if plan.warn_pct is not None else book.default_warn_pct,
        plan.crit_pct if plan.crit_pct is not None else book.default_crit_pct,
    )


def _month_target(book: PlanBook, index: int, month: dt.date) -> _Piece | str:
    """The target of ``book.chain[index]`` for ``month``, or why there is none."""
    unit = book.chain[index]
    plan = _own_plan(book, unit.id, month)
    if plan is not None:
        return _own_piece(book, plan, unit.name, month)
    when = f"{month:%B %Y}"
    if index + 1 >= len(book.chain):
        return f"{unit.name} has no plan for {when}"
    parent = book.chain[index + 1]
    above = _month_target(book, index + 1, month)
    if isinstance(above, str):
        return f"{unit.name} has no plan for {when}, nor has its parent: {above}"
    return _passed_down(book, unit, parent, above, when)


def _passed_down(
    book: PlanBook, unit: ChainUnit, parent: ChainUnit, above: _Piece, when: str
) -> _Piece | str:
    """What ``parent``'s target ``above`` gives ``unit`` by the rule of its plan."""
    rule = above.allocation
    if rule is TargetAllocation.EXPLICIT:
        return (
            f"{unit.name} has no plan for {when}, and {parent.name}'s target is not passed "
            "down (explicit plan)"
        )
    basis = TargetBasis.EQUAL if rule is TargetAllocation.EQUAL else TargetBasis.SHARE
    if not book.additive:
        text = f"{_whose(above, parent)}, as is (a ratio or average is not split)"
        return _Piece(
            above.value, basis, text, rule, above.origin_start, above.warn_pct, above.crit_pct
        )
    if rule is TargetAllocation.EQUAL:
        count = max(parent.children, 1)
        value = above.value / count
        text = f"an equal split (1 of {count}) of {_whose(above, parent)}"
    else:
        share = book.shares.get((unit.id, above.origin_start))
        if share is None:
            return (
                f"{unit.name} has no plan for {when}, and its share of {parent.name}'s value "
                "cannot be computed: there is no history in the year before the plan"
            )
        value = above.value * share
        text = f"a {share:.1%} share (by last year's value) of {_whose(above, parent)}"
    text = text.replace("%", " %")
    return _Piece(value, basis, text, rule, above.origin_start, above.warn_pct, above.crit_pct)


def _whose(above: _Piece, parent: ChainUnit) -> str:
    """How the parent's target reads inside a child's: its own plan, or what it got."""
    return (
        above.text if above.basis is TargetBasis.OWN else f"{parent.name}'s target ({above.text})"
    )


def target_over(book: PlanBook, start: dt.datetime, end: dt.datetime) -> Target:
    """The target of ``book.chain[0]`` over ``[start, end)`` (UTC): see the module.

    When any month of the range has no target, the range has none (``text`` says why).
    """
    if not book.chain or start >= end:
        return Target(None, TargetBasis.NONE, "no unit or an empty range")
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    pieces: list[tuple[_Piece, float, float]] = []
    month = dt.date(start.year, start.month, 1)
    while _midnight(month) < end:
        month_start, month_end = _midnight(month), _midnight(add_months(month, 1))
        overlap = (min(end, month_end) - max(start, month_start)).total_seconds()
        found = _month_target(book, 0, month)
        if isinstance(found, str):
            return Target(None, TargetBasis.NONE, found)
        pieces.append((found, overlap, (month_end - month_start).total_seconds()))
        month = add_months(month, 1)
    return _combined(book, pieces)


def _combined(book: PlanBook, pieces: list[tuple[_Piece, float, float]]) -> Target:
    if book.additive:
        value = sum(p.value * overlap / length for p, overlap, length in pieces)
    else:
        value = sum(p.value * overlap for p, overlap, _ in pieces) / sum(o for _, o, _ in pieces)
    texts = list(dict.fromkeys(p.text for p, _, _ in pieces))
    text = " and ".join(texts)
    if book.additive and any(overlap < length for _, overlap, length in pieces):
        text += ", pro-rated"
    last = pieces[-1][0]
    return Target(value, last.basis, text, last.warn_pct, last.crit_pct)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
