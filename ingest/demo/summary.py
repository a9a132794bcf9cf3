"""What the demo holds: events per source and each KPI at the top of the hierarchy, via queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models.catalog import count_metric_ids, root_units
from models.enums import Granularity
from models.permissions import Permission, Principal
from models.queries.common import Period, floor_to, read_connection
from models.queries.executive.definitions import KpiDefinition, load_kpis
from models.queries.executive.numbers import KpiValue, kpi_values
from models.queries.executive.rollups import fetch_stats, plan_reads
from models.settings import Settings

EVENTS_LOOKBACK = dt.timedelta(days=3_650)


@dataclass(frozen=True, slots=True)
class KpiLine:
    definition: KpiDefinition
    value: KpiValue


@dataclass(frozen=True, slots=True)
class DemoSummary:
    unit_name: str
    events: dict[str, int]
    """Events stored per source key (from the count rollups, all time)."""
    kpis: tuple[KpiLine, ...]
    """Each KPI over the last full UTC day, with the day before."""


def system_principal(paths: tuple[str, ...]) -> Principal:
    """A read-only principal for the command line: KPI values over the whole organisation."""
    return Principal(None, frozenset({Permission.KPI_VIEW}), paths, name="northstar demo summary")


def demo_summary(engine: Engine, settings: Settings, now: dt.datetime | None = None) -> DemoSummary:
    """Events per source and every KPI for the last full day at the top of the hierarchy."""
    with Session(engine) as session:
        roots = root_units(session)
        metric_ids = count_metric_ids(session)
    if not roots:
        raise LookupError("no organisation is loaded: run `northstar demo seed` first")
    root = roots[0]
    principal = system_principal((root.path,))
    today = floor_to(now or dt.datetime.now(dt.UTC), Granularity.DAY)
    last_day = Period(today - dt.timedelta(days=1), today)
    everything = Period.covering(today - EVENTS_LOOKBACK, now or dt.datetime.now(dt.UTC))
    with read_connection(engine, settings) as connection:
        found = fetch_stats(
            connection,
            scope_paths=principal.scope_paths,
            unit_id=root.id,
            unit_path=root.path,
            metric_ids=list(metric_ids.values()),
            plan=plan_reads(everything),
            max_rows=len(metric_ids) or 1,
        ).get((0, None), {})
        kpis = load_kpis(connection, principal)
        values = kpi_values(connection, principal, kpis, root.id, last_day)
    events = {key: int(found[i].n) if i in found else 0 for key, i in metric_ids.items()}
    lines = tuple(KpiLine(k, v) for k, v in zip(kpis, values, strict=True))
    return DemoSummary(root.name, events, lines)
