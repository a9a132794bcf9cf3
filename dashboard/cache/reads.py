"""The dashboard's data reads through the answer cache: same answers as ``models.queries``.

Each function names what its answer depends on. KPI numbers depend on the versions of the
metrics their formula reads and on the period's bounds (whole minutes, as the queries round
them, so they move once a minute). Source facts and lineage depend on every source's newest
data (the data version), the source catalogue (its version) and the current minute: they are
read at the start of the minute (``now`` floored), so an answer is the same whenever in that
minute it is computed, and the freshness shown from them is computed with the exact time.

KPI definitions and the unit come from :mod:`dashboard.cache.catalog` (cached for the minute);
they go into the keys, so a changed formula or a moved unit is a new key.

Each read returns a :class:`~dashboard.cache.answers.Deferred`: the reads a page asks for
before it takes the first answer are looked up in Redis together (one round trip for their
versions, one for the answers), and the database connection (``connect``, see
:mod:`dashboard.cache.lazy`) is opened only by the first answer that must be computed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from dashboard.cache.answers import CallCache, Deferred, Derived, Question
from dashboard.cache.lazy import Connect
from ingest.versions import closed_before
from models.enums import Granularity
from models.queries.common import DEFAULT_LIMITS, Period, QueryLimits, floor_to
from models.queries.executive import numbers as kpi_queries
from models.queries.executive.definitions import KpiDefinition
from models.queries.executive.numbers import KpiBreakdown, KpiSeries, KpiValue
from models.queries.scope import Unit, resolve_unit
from models.queries.steward.lineage import KpiLineage, kpi_lineage
from models.queries.steward.quality import SourceFacts, source_facts


def minute_of(now: dt.datetime) -> dt.datetime:
    """The start of the UTC minute of ``now``: what minute-dependent answers are keyed by."""
    return floor_to(now, Granularity.MINUTE)


def kpi_fingerprint(kpi: KpiDefinition) -> tuple[Any, ...]:
    """What of a KPI's definition its numbers depend on."""
    return (kpi.id, kpi.key, kpi.formula.text, sorted(kpi.metric_ids.items()))


def live_unit(cache: CallCache, connect: Connect, unit: Unit) -> Unit:
    """``unit`` resolved again against the principal's live scope, once per call: answers
    computed now never rest on a resolution cached before a unit moved out of scope."""
    return cache.once(("unit", unit.id), lambda: resolve_unit(connect(), cache.principal, unit.id))


def settled(period: Period, now: dt.datetime) -> bool:
    """Whether ``period`` ended before the current hour: its answers carry the closed data
    versions, so events streaming in now leave them cached."""
    return period.end <= closed_before(now)


def _metrics(kpis: Sequence[KpiDefinition]) -> frozenset[int]:
    return frozenset(metric_id for kpi in kpis for metric_id in kpi.metric_ids.values())


def kpi_series_set(
    cache: CallCache,
    connect: Connect,
    kpis: Sequence[KpiDefinition],
    unit: Unit,
    period: Period,
    granularity: Granularity,
    *,
    now: dt.datetime,
    limits: QueryLimits = DEFAULT_LIMITS,
) -> Deferred[list[KpiSeries]]:
    """:func:`models.queries.executive.numbers.kpi_series_set` for ``unit`` (already
    authorised): the series and the period's value of each KPI, in one query."""
    question: Question[list[KpiSeries]] = Question(
        "kpi_series_set",
        list[KpiSeries],
        {
            "kpis": [kpi_fingerprint(k) for k in kpis],
            "unit": unit,
            "period": period,
            "granularity": granularity,
            "row_limit": limits.row_limit,
        },
        metrics=_metrics(kpis),
        closed=settled(period, now),
    )
    return cache.defer(
        question,
        lambda: kpi_queries.kpi_series_set(
            connect(),
            cache.principal,
            kpis,
            live_unit(cache, connect, unit),
            period,
            granularity,
            limits=limits,
        ),
    )


def kpi_totals(
    cache: CallCache,
    connect: Connect,
    kpis: Sequence[KpiDefinition],
    unit: Unit,
    period: Period,
    *,
    now: dt.datetime,
) -> Deferred[list[float | None]]:
    """:func:`models.queries.executive.numbers.kpi_totals` for ``unit`` (already authorised)."""
    question: Question[list[float | None]] = Question(
        "kpi_totals",
        list[float | None],
        {"kpis": [kpi_fingerprint(k) for k in kpis], "unit": unit, "period": period},
        metrics=_metrics(kpis),
        closed=settled(period, now),
    )
    return cache.defer(
        question,
        lambda: kpi_queries.kpi_totals(
            connect(), cache.principal, kpis, live_unit(cache, connect, unit), period
        ),
    )


def kpi_series(
    cache: CallCache,
    connect: Connect,
    kpi: KpiDefinition,
    unit: Unit,
    period: Period,
    granularity: Granularity,
    *,
    now: dt.datetime,
    limits: QueryLimits = DEFAULT_LIMITS,
) -> Derived[list[KpiSeries], KpiSeries]:
    """:func:`models.queries.executive.numbers.kpi_series` (a refusal such as QueryTooLarge
    is raised, never cached); the same answer as :func:`kpi_series_set` of that KPI alone."""
    return Derived(
        kpi_series_set(cache, connect, [kpi], unit, period, granularity, now=now, limits=limits),
        lambda series: series[0],
    )


def period_value(series: KpiSeries, previous: KpiSeries, period: Period) -> KpiValue:
    """The KPI's value over ``period`` and the previous period, from the two series' totals."""
    return KpiValue(
        series.kpi_key, series.unit, period, series.total, period.previous, previous.total
    )


def kpi_breakdown(
    cache: CallCache,
    connect: Connect,
    kpi: KpiDefinition,
    unit: Unit,
    period: Period,
    *,
    now: dt.datetime,
    limits: QueryLimits = DEFAULT_LIMITS,
) -> Deferred[KpiBreakdown]:
    """:func:`models.queries.executive.numbers.kpi_breakdown` (with the child units)."""
    question: Question[KpiBreakdown] = Question(
        "kpi_breakdown",
        KpiBreakdown,
        {
            "kpi": kpi_fingerprint(kpi),
            "unit": unit,
            "period": period,
            "row_limit": limits.row_limit,
        },
        metrics=_metrics([kpi]),
        closed=settled(period, now),
    )
    return cache.defer(
        question,
        lambda: kpi_queries.kpi_breakdown(
            connect(), cache.principal, kpi, live_unit(cache, connect, unit), period, limits=limits
        ),
    )


def sources_facts(
    cache: CallCache, connect: Connect, source_ids: Collection[int], now: dt.datetime
) -> Deferred[dict[int, SourceFacts]]:
    """:func:`models.queries.steward.quality.source_facts` as of the start of ``now``'s minute."""
    minute = minute_of(now)
    ids = sorted(set(source_ids))
    question: Question[dict[int, SourceFacts]] = Question(
        "source_facts", dict[int, SourceFacts], {"sources": ids, "minute": minute}, wide=True
    )
    return cache.defer(question, lambda: source_facts(connect(), ids, now=minute))


def lineage(
    cache: CallCache, connect: Connect, kpi: KpiDefinition, now: dt.datetime
) -> Deferred[KpiLineage]:
    """:func:`models.queries.steward.lineage.kpi_lineage` as of the start of ``now``'s minute."""
    minute = minute_of(now)
    question: Question[KpiLineage] = Question(
        "kpi_lineage",
        KpiLineage,
        {"kpi": kpi_fingerprint(kpi), "minute": minute},
        metrics=_metrics([kpi]),
        wide=True,
    )
    return cache.defer(question, lambda: kpi_lineage(connect(), cache.principal, kpi, minute))
