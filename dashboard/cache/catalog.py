"""The question's own reads through the answer cache: KPI definitions and scope checks.

A page's data answers are keyed by the KPI and the unit asked, so those are read first. They
were read live on every call; here they are cached **for the current minute**, like the
source facts, so a call whose answers are all cached needs no database connection at all.

Why that is safe for the scope check (:func:`dashboard.auth.policy.authorize_unit`):

- the principal (user, permissions, scope paths) is read live on every request by the session
  check, and every key carries the scope paths and mask level (:func:`answer_key`): a grant
  taken away or changed changes the key at once, and other scopes never share an entry;
- only successful resolutions are cached; a refusal (out of scope, unknown, bad input) is
  raised and computed again on every call, and input of the wrong shape is never a key;
- what a cached resolution can lag behind is the org chart itself: a unit moved, renamed or
  removed reaches the pages within the minute. Every data read that is not cached resolves the
  unit again against the live scope in SQL (``models.queries.executive.numbers``), so a unit
  moved out of a scope gives that scope no new numbers; at most the ones cached in that
  minute, which it was entitled to when they were read.

KPI definitions (formula, thresholds, levels) likewise reach the pages within the minute after
an edit. The definitions are cached as :class:`KpiRecord` (the formula as text, parsed again
on the way out: msgspec cannot store a parsed formula).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from dashboard.auth.policy import MAX_KEY_LENGTH, authorize_unit
from dashboard.cache.answers import Answer, CallCache, Derived, Question
from dashboard.cache.lazy import Connect
from dashboard.cache.reads import minute_of
from models.enums import Direction, Granularity, OrgLevel
from models.formulas import Formula, parse_formula
from models.permissions import AccessDenied
from models.queries.executive.definitions import KpiDefinition, load_kpi, load_kpis
from models.queries.scope import Unit, root_units

MAX_UNIT_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class KpiRecord:
    """A :class:`KpiDefinition` as the cache stores it (see the module)."""

    id: int
    key: str
    name: str
    description: str
    formula: str
    unit: str
    format: str
    direction: Direction
    target: float | None
    warn_threshold: float | None
    crit_threshold: float | None
    default_granularity: Granularity
    levels: tuple[OrgLevel, ...]
    metric_ids: dict[str, int]
    source_ids: tuple[int, ...]

    @classmethod
    def of(cls, kpi: KpiDefinition) -> KpiRecord:
        return cls(
            id=kpi.id,
            key=kpi.key,
            name=kpi.name,
            description=kpi.description,
            formula=kpi.formula.text,
            unit=kpi.unit,
            format=kpi.format,
            direction=kpi.direction,
            target=kpi.target,
            warn_threshold=kpi.warn_threshold,
            crit_threshold=kpi.crit_threshold,
            default_granularity=kpi.default_granularity,
            levels=kpi.levels,
            metric_ids=dict(kpi.metric_ids),
            source_ids=tuple(sorted(kpi.source_ids)),
        )

    def definition(self) -> KpiDefinition:
        return KpiDefinition(
            id=self.id,
            key=self.key,
            name=self.name,
            description=self.description,
            formula=_formula(self.formula),
            unit=self.unit,
            format=self.format,
            direction=self.direction,
            target=self.target,
            warn_threshold=self.warn_threshold,
            crit_threshold=self.crit_threshold,
            default_granularity=self.default_granularity,
            levels=self.levels,
            metric_ids=dict(self.metric_ids),
            source_ids=frozenset(self.source_ids),
        )


@functools.lru_cache(maxsize=256)
def _formula(text: str) -> Formula:
    # Parsed when stored, so it parses; a Formula is immutable, so one per text is shared.
    return parse_formula(text)


class Ready:
    """An answer already there (a read that bypassed the cache)."""

    __slots__ = ("_value",)

    def __init__(self, value: Unit) -> None:
        self._value = value

    def get(self) -> Unit:
        return self._value


def kpi_definitions(
    cache: CallCache, connect: Connect, now: dt.datetime
) -> Answer[list[KpiDefinition]]:
    """:func:`models.queries.executive.numbers.load_kpis`, cached for ``now``'s minute."""
    question: Question[list[KpiRecord]] = Question(
        "kpi_definitions", list[KpiRecord], {"minute": minute_of(now)}
    )
    records = cache.defer(
        question, lambda: [KpiRecord.of(k) for k in load_kpis(connect(), cache.principal)]
    )
    return Derived(records, lambda found: [record.definition() for record in found])


def kpi_definition(
    cache: CallCache, connect: Connect, key: str, now: dt.datetime
) -> Answer[KpiDefinition]:
    """:func:`models.queries.executive.definitions.load_kpi` (UnknownKpi is raised, never
    cached), cached for ``now``'s minute. ``key`` must already be checked (1 to 100
    printable characters)."""
    question: Question[KpiRecord] = Question(
        "kpi_definition", KpiRecord, {"key": key, "minute": minute_of(now)}
    )
    record = cache.defer(question, lambda: KpiRecord.of(load_kpi(connect(), cache.principal, key)))
    return Derived(record, KpiRecord.definition)


def _keyable(unit: object) -> bool:
    """Whether ``unit`` has a shape :func:`authorize_unit` may accept (else it refuses it)."""
    if isinstance(unit, bool):
        return False
    if isinstance(unit, int):
        return 0 < unit <= MAX_UNIT_ID
    return isinstance(unit, str) and 0 < len(unit) <= MAX_KEY_LENGTH


def scope_unit(cache: CallCache, connect: Connect, unit: object, now: dt.datetime) -> Answer[Unit]:
    """:func:`dashboard.auth.policy.authorize_unit` of untrusted ``unit`` for the cache's
    principal, cached for ``now``'s minute (see the module for why that is safe).

    Raises (here or when taken):
        ValueError, AccessDenied: as ``authorize_unit``; never cached.
    """
    if not _keyable(unit):
        return Ready(authorize_unit(connect(), cache.principal, unit))
    params = {"unit": unit, "minute": minute_of(now)}
    question: Question[Unit] = Question("scope_unit", Unit, params)
    return cache.defer(question, lambda: authorize_unit(connect(), cache.principal, unit))


def first_root(cache: CallCache, connect: Connect, now: dt.datetime) -> Answer[Unit]:
    """The first of the principal's scope roots (``root_units``), cached for the minute.

    Raises (when taken):
        AccessDenied: no org units are granted.
    """

    def compute() -> Unit:
        roots = root_units(connect(), cache.principal)
        if not roots:
            raise AccessDenied("no org units are granted to you")
        return roots[0]

    question: Question[Unit] = Question("scope_root", Unit, {"minute": minute_of(now)})
    return cache.defer(question, compute)


def scope_trail(
    cache: CallCache, connect: Connect, unit: Unit, now: dt.datetime
) -> Answer[tuple[Unit, ...]]:
    """The unit's ancestors that lie in scope, top first, then the unit: never above the
    scope root, because each ancestor is resolved through the scope check. Cached for the
    minute with ``unit`` (its path included) in the key."""

    def compute() -> tuple[Unit, ...]:
        trail = []
        for ancestor_id in unit.path.split(".")[:-1]:
            try:
                trail.append(authorize_unit(connect(), cache.principal, int(ancestor_id)))
            except AccessDenied:
                continue
        return (*trail, unit)

    question: Question[tuple[Unit, ...]] = Question(
        "scope_trail", tuple[Unit, ...], {"unit": unit, "minute": minute_of(now)}
    )
    return cache.defer(question, compute)
