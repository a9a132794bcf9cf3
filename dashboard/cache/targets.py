"""The pages' target reads through the answer cache (``models.queries.targets``).

A target depends on the plans, the org chart and (for the ``share`` rule) last year's rollups,
none of which carry a data version: like the KPI definitions (``dashboard.cache.catalog``), a
target is cached **for the current minute**, so a changed plan reaches the pages within it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dashboard.cache.answers import CallCache, Deferred, Question
from dashboard.cache.lazy import Connect
from dashboard.cache.reads import kpi_fingerprint, live_unit, minute_of
from models.queries.common import Period
from models.queries.executive.definitions import KpiDefinition
from models.queries.scope import Unit
from models.queries.targets import targets_for
from models.target_rules import Target


def kpi_targets(
    cache: CallCache,
    connect: Connect,
    kpis: Sequence[KpiDefinition],
    unit: Unit,
    period: Period,
    now: dt.datetime,
) -> Deferred[list[Target]]:
    """Each KPI's target for ``unit`` (already authorised) over ``period``."""
    question: Question[list[Target]] = Question(
        "kpi_targets",
        list[Target],
        {
            "kpis": [kpi_fingerprint(k) for k in kpis],
            "unit": unit,
            "period": period,
            "minute": minute_of(now),
        },
    )
    return cache.defer(
        question,
        lambda: targets_for(
            connect(),
            cache.principal,
            kpis,
            live_unit(cache, connect, unit),
            period.start,
            period.end,
        ),
    )
