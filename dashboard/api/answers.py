"""What the read API answers: the pages' KPI numbers, through their answer cache, as JSON.

Every read is the one the Overview or the KPI page makes (``dashboard.cache.reads`` and
``dashboard.cache.catalog``): the same cache keys (scope and mask level included), the same
scope checks, the same periods (``dashboard.executive.selectors``), the same status
(:func:`models.judging.judge`, against the unit's own target). No answer carries event
attributes or any other personal data: only KPI values, org units, targets, and the
data-quality verdicts of sources.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dashboard.cache import CallCache, catalog, reads
from dashboard.cache.lazy import Connect
from dashboard.cache.targets import kpi_targets
from dashboard.executive.selectors import DEFAULT_PERIOD, PERIODS, PeriodChoice, period_for
from dashboard.executive.summary import (
    auto_granularity,
    checked_key,
    parse_granularity,
    percent_change,
)
from models.enums import Granularity
from models.judging import judge
from models.permissions import AccessDenied
from models.queries.common import Period, QueryLimits, QueryTooLarge
from models.queries.executive.definitions import KpiDefinition, UnknownKpi
from models.queries.scope import Unit
from models.queries.steward.quality import Badge, kpi_badge
from models.target_rules import Target

Json = dict[str, Any]


class BadParameter(ValueError):
    """A query parameter (or path part) that cannot be used; answered 400 naming it."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


class OutOfScope(AccessDenied):
    """The unit asked is not in the caller's scope (or does not exist: the same answer)."""


class NoSuchKpi(LookupError):
    """No KPI has the key asked; answered 404."""


def choice_of(value: str | None) -> PeriodChoice:
    """The period a ``period`` parameter names (``today`` when absent)."""
    if value is None:
        return PERIODS[DEFAULT_PERIOD]
    if value not in PERIODS:
        raise BadParameter("period", f"{value!r} is not one of {', '.join(PERIODS)}")
    return PERIODS[value]


def unit_of(cache: CallCache, connect: Connect, value: str | None, now: dt.datetime) -> Unit:
    """The unit a ``unit`` parameter names, if in scope; the first root of the scope when
    absent. OutOfScope names the unit asked."""
    if value is None:
        return catalog.first_root(cache, connect, now).get()
    try:
        key = checked_key(value, "unit")
    except ValueError as exc:
        raise BadParameter("unit", str(exc)) from None
    try:
        return catalog.scope_unit(cache, connect, key, now).get()
    except AccessDenied:
        raise OutOfScope(f"unit {key!r} is not in your scope (or does not exist)") from None


def kpi_of(cache: CallCache, connect: Connect, value: str, now: dt.datetime) -> KpiDefinition:
    try:
        key = checked_key(value, "KPI")
    except ValueError as exc:
        raise BadParameter("key", str(exc)) from None
    try:
        return catalog.kpi_definition(cache, connect, key, now).get()
    except UnknownKpi:
        raise NoSuchKpi(f"there is no KPI with key {key!r}") from None


def reported(kpi: KpiDefinition, unit: Unit) -> None:
    if unit.level not in kpi.levels:
        raise BadParameter("unit", f"{kpi.name} is not reported at the {unit.level.value} level")


def _time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def unit_json(unit: Unit) -> Json:
    return {"key": unit.key, "name": unit.name, "level": unit.level.value}


def period_json(period: Period, key: str | None = None) -> Json:
    shown: Json = {"start": _time(period.start), "end": _time(period.end)}
    return {"key": key, **shown} if key is not None else shown


def badge_json(badge: Badge) -> Json:
    return {"level": badge.level.name.lower(), "reasons": list(badge.reasons)}


def change_json(value: float | None, previous: float | None) -> Json:
    absolute = None if value is None or previous is None else value - previous
    return {"absolute": absolute, "percent": percent_change(value, previous)}


def _entry(kpi: KpiDefinition, value: float | None, previous: float | None, target: Target) -> Json:
    judged = judge(value, target, kpi.direction)
    return {
        "key": kpi.key,
        "name": kpi.name,
        "value": value,
        "previous_value": previous,
        "change": change_json(value, previous),
        "value_unit": kpi.unit,
        "format": kpi.format,
        "direction": kpi.direction.value,
        "target": judged.target,
        "target_basis": target.basis.value,
        "target_explanation": judged.explanation,
        "warn_threshold": judged.warn,
        "crit_threshold": judged.crit,
        "status": judged.status.value,
    }


def kpi_numbers(
    cache: CallCache,
    connect: Connect,
    kpis: Sequence[KpiDefinition],
    unit: Unit,
    choice: PeriodChoice,
    now: dt.datetime,
) -> list[Json]:
    """Value, previous value, change, target, status and badge of each KPI: the Overview's
    reads (``overview_tiles``), so a number here is the number its tile shows."""
    if not kpis:
        return []
    period = period_for(choice, now)
    series = reads.kpi_series_set(cache, connect, kpis, unit, period, choice.granularity, now=now)
    previous = reads.kpi_totals(cache, connect, kpis, unit, period.previous, now=now)
    targets = kpi_targets(cache, connect, kpis, unit, period, now)
    facts = reads.sources_facts(cache, connect, {s for k in kpis for s in k.source_ids}, now)
    found = facts.get()
    entries = []
    rows = zip(kpis, series.get(), previous.get(), targets.get(), strict=True)
    for kpi, answer, before, target in rows:
        entry = _entry(kpi, answer.total, before, target)
        entry["quality"] = badge_json(kpi_badge(kpi.source_ids, found, now))
        entries.append(entry)
    return entries


def overview(
    cache: CallCache, connect: Connect, unit: Unit, choice: PeriodChoice, now: dt.datetime
) -> Json:
    """``GET /kpis``: every KPI reported at the unit's level, with its numbers."""
    kpis = [k for k in catalog.kpi_definitions(cache, connect, now).get() if unit.level in k.levels]
    return {
        "unit": unit_json(unit),
        "period": period_json(period_for(choice, now), choice.key),
        "as_of": _time(now),
        "kpis": kpi_numbers(cache, connect, kpis, unit, choice, now),
    }


def one_kpi(
    cache: CallCache,
    connect: Connect,
    kpi: KpiDefinition,
    unit: Unit,
    choice: PeriodChoice,
    now: dt.datetime,
) -> Json:
    """``GET /kpis/<key>``: one KPI's numbers at the unit over the period."""
    reported(kpi, unit)
    period = period_for(choice, now)
    (entry,) = kpi_numbers(cache, connect, [kpi], unit, choice, now)
    return {
        "unit": unit_json(unit),
        "period": period_json(period, choice.key),
        "previous_period": period_json(period.previous),
        "as_of": _time(now),
        **entry,
    }


def _moment(value: str, parameter: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadParameter(parameter, f"{value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise BadParameter(parameter, "give the time with its offset, e.g. 2026-01-31T00:00Z")
    return moment


def series_period(
    start: str | None, end: str | None, period: str | None, now: dt.datetime
) -> tuple[Period, str | None]:
    """The period of ``from`` and ``to`` (both or neither), else of ``period``."""
    if start is None and end is None:
        choice = choice_of(period)
        return period_for(choice, now), choice.key
    if start is None or end is None:
        raise BadParameter("from" if start is None else "to", "give both from and to, or neither")
    if period is not None:
        raise BadParameter("period", "give either period, or from and to")
    first, last = _moment(start, "from"), _moment(end, "to")
    if first >= last:
        raise BadParameter("from", "must be before to")
    return Period.covering(first, last), None


def granularity_of(value: str | None, period: Period) -> Granularity:
    try:
        chosen = parse_granularity(value)
    except ValueError as exc:
        raise BadParameter("granularity", str(exc)) from None
    return chosen or auto_granularity(period)


def series(
    cache: CallCache,
    connect: Connect,
    kpi: KpiDefinition,
    unit: Unit,
    asked: tuple[Period, str | None],
    granularity: Granularity,
    now: dt.datetime,
    limits: QueryLimits,
) -> Json:
    """``GET /kpis/<key>/series``: the KPI per bucket, as the KPI page's trend reads it."""
    reported(kpi, unit)
    period, key = asked
    try:
        found = reads.kpi_series(
            cache, connect, kpi, unit, period, granularity, now=now, limits=limits
        ).get()
    except QueryTooLarge as exc:
        raise BadParameter("granularity", str(exc)) from None
    return {
        "key": kpi.key,
        "unit": unit_json(unit),
        "period": period_json(period, key) if key else period_json(period),
        "granularity": granularity.value,
        "total": found.total,
        "as_of": _time(now),
        "points": [
            {"start": _time(p.start), "end": _time(p.end), "value": p.value} for p in found.points
        ],
    }


def breakdown(
    cache: CallCache,
    connect: Connect,
    kpi: KpiDefinition,
    unit: Unit,
    choice: PeriodChoice,
    now: dt.datetime,
    limits: QueryLimits,
) -> Json:
    """``GET /kpis/<key>/breakdown``: the KPI per child unit in scope, now and before."""
    reported(kpi, unit)
    period = period_for(choice, now)
    current = reads.kpi_breakdown(cache, connect, kpi, unit, period, now=now, limits=limits)
    before = reads.kpi_breakdown(cache, connect, kpi, unit, period.previous, now=now, limits=limits)
    previous = {row.unit.id: row.value for row in before.get().rows}
    rows = []
    for row in current.get().rows:
        was = previous.get(row.unit.id)
        rows.append(
            {
                "unit": unit_json(row.unit),
                "value": row.value,
                "previous_value": was,
                "change": change_json(row.value, was),
            }
        )
    return {
        "key": kpi.key,
        "unit": unit_json(unit),
        "period": period_json(period, choice.key),
        "as_of": _time(now),
        "rows": rows,
    }
