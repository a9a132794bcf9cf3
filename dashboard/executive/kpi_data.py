"""What the KPI page reads: the browser's request, validated, and every answer the page shows.

No layout here (``dashboard.executive.pages.kpi`` and ``kpi_head`` draw it). Everything is
read through the answer cache, the KPI and the scope checks included
(``dashboard.cache.catalog``), with a database connection opened only when an answer is
missing (``dashboard.cache.lazy``).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from dashboard.alerts.review_marks import ReviewNote, page_reviews
from dashboard.cache import CallCache, catalog, reads
from dashboard.cache.answers import Answer
from dashboard.cache.lazy import Connect
from dashboard.cache.targets import kpi_targets
from dashboard.executive.definition_marks import page_changes
from dashboard.executive.summary import (
    PeriodChoice,
    auto_granularity,
    checked_key,
    parse_granularity,
    parse_period_choice,
    period_for,
)
from models.enums import Granularity
from models.judging import Judgement, judge
from models.queries.common import Period, QueryLimits
from models.queries.executive.definitions import KpiDefinition, UnknownKpi
from models.queries.executive.kpi_versions import DefinitionChange
from models.queries.executive.numbers import KpiBreakdown, KpiSeries, KpiValue
from models.queries.scope import Unit
from models.queries.steward.lineage import KpiLineage
from models.queries.steward.quality import Badge, grade_source, kpi_badge
from models.target_rules import Target, TargetBasis

NO_SUCH_KPI = "there is no KPI with that key"


class KpiRequest(NamedTuple):
    """What the browser asked for, validated (not yet authorised)."""

    kpi_key: str
    unit: str | None
    period: PeriodChoice
    granularity: Granularity | None


class KpiPageData(NamedTuple):
    kpi: KpiDefinition
    unit: Unit
    trail: tuple[Unit, ...]
    period: Period
    granularity: Granularity
    value: KpiValue
    series: KpiSeries
    previous_series: KpiSeries
    breakdown: KpiBreakdown
    previous_breakdown: KpiBreakdown
    lineage: KpiLineage
    badges: dict[int, Badge]
    """Data-quality badge per source id."""
    badge: Badge
    """The KPI's badge: the worst of its sources'."""
    reviews: tuple[ReviewNote, ...] = ()
    """Open reviews and decisions since the period's start (``components.review_marks``)."""
    target: Target = Target(None, TargetBasis.NONE, "no target")
    """The unit's own target for the period (``models.queries.targets``)."""
    definition_changes: tuple[DefinitionChange, ...] = ()
    """Changes of the KPI's definition within the period (``definition_marks``)."""

    @property
    def judgement(self) -> Judgement:
        """The value judged against the unit's target (``models.judging.judge``)."""
        return judge(self.value.value, self.target, self.kpi.direction)

    @property
    def rows(self) -> int:
        """How many values the page shows, for ``access_log``."""
        points = len(self.series.points) + len(self.previous_series.points)
        return 1 + points + len(self.breakdown.rows) + len(self.previous_breakdown.rows)


def parse_request(params: object, period: object, granularity: object) -> KpiRequest:
    """Validate the page's inputs; ValueError with a message fit for users otherwise."""
    if not isinstance(params, dict):
        raise ValueError("the page parameters are malformed")
    unit = params.get("unit")
    return KpiRequest(
        kpi_key=checked_key(params.get("kpi"), "KPI"),
        unit=None if unit in (None, "") else checked_key(unit, "unit"),
        period=parse_period_choice(period),
        granularity=parse_granularity(granularity),
    )


def known_kpi(answer: Answer[KpiDefinition]) -> KpiDefinition:
    """The KPI; an unknown key is bad input (a clean message), not an error."""
    try:
        return answer.get()
    except UnknownKpi:
        raise ValueError(NO_SUCH_KPI) from None


def asked_unit(
    cache: CallCache, connect: Connect, unit: str | None, now: dt.datetime
) -> Answer[Unit]:
    """The asked unit if in scope, else (when none asked) the first root of the scope."""
    if unit is not None:
        return catalog.scope_unit(cache, connect, unit, now)
    return catalog.first_root(cache, connect, now)


def load_page(
    connect: Connect,
    cache: CallCache,
    request: KpiRequest,
    now: dt.datetime,
    limits: QueryLimits,
) -> KpiPageData:
    """Every read of the page, through the answer cache; what is missing is read in one
    read-only transaction (``connect``). The reads are asked before any is taken, so Redis
    answers each group in one round trip (see ``dashboard.cache.reads``)."""
    kpi_answer = catalog.kpi_definition(cache, connect, request.kpi_key, now)
    unit_answer = asked_unit(cache, connect, request.unit, now)
    kpi = known_kpi(kpi_answer)
    unit = unit_answer.get()
    if unit.level not in kpi.levels:
        raise ValueError(f"{kpi.name} is not reported at the {unit.level.value} level")
    period = period_for(request.period, now)
    granularity = request.granularity or auto_granularity(period)
    series = reads.kpi_series(
        cache, connect, kpi, unit, period, granularity, now=now, limits=limits
    )
    facts = reads.sources_facts(cache, connect, kpi.source_ids, now)
    trail = catalog.scope_trail(cache, connect, unit, now)
    previous = reads.kpi_series(
        cache, connect, kpi, unit, period.previous, granularity, now=now, limits=limits
    )
    breakdown = reads.kpi_breakdown(cache, connect, kpi, unit, period, now=now, limits=limits)
    previous_breakdown = reads.kpi_breakdown(
        cache, connect, kpi, unit, period.previous, now=now, limits=limits
    )
    lineage = reads.lineage(cache, connect, kpi, now)
    reviews = page_reviews(cache, connect, kpi, unit, period, now)
    targets = kpi_targets(cache, connect, [kpi], unit, period, now)
    changes = page_changes(cache, connect, kpi, period, now)
    # Taken in the order the page used to read them: a refusal (too many buckets) comes first.
    current_series = series.get()
    previous_series = previous.get()
    found = facts.get()
    return KpiPageData(
        kpi=kpi,
        unit=unit,
        trail=trail.get(),
        period=period,
        granularity=granularity,
        value=reads.period_value(current_series, previous_series, period),
        series=current_series,
        previous_series=previous_series,
        breakdown=breakdown.get(),
        previous_breakdown=previous_breakdown.get(),
        lineage=lineage.get(),
        badges={source_id: grade_source(f, now) for source_id, f in found.items()},
        badge=kpi_badge(kpi.source_ids, found, now),
        reviews=tuple(reviews.get()),
        target=targets.get()[0],
        definition_changes=tuple(changes.get()),
    )
