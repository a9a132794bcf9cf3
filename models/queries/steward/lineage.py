"""Lineage: a KPI's owner, steward and sources upstream; a source's metrics and KPIs downstream."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, text

from models.enums import RefreshMode
from models.permissions import Permission, Principal
from models.queries.common import IN_SCOPE, scope_params
from models.queries.executive.definitions import KpiDefinition

FRESHNESS_LOOKBACK = dt.timedelta(days=2)
"""How far back the newest event of a source is looked for (older counts as none)."""


@dataclass(frozen=True, slots=True)
class SourceLineage:
    """A source feeding a KPI; ``newest_event`` is within the principal's scope."""

    id: int
    key: str
    name: str
    owner_unit: str
    steward: str | None
    refresh_mode: RefreshMode
    freshness_sla_s: int
    active: bool
    metrics: tuple[str, ...]
    newest_event: dt.datetime | None

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return now - self.newest_event if self.newest_event is not None else None

    def is_late(self, now: dt.datetime) -> bool:
        """True when the newest event is older than the SLA (or there is none recently)."""
        age = self.age(now)
        return age is None or age.total_seconds() > self.freshness_sla_s


@dataclass(frozen=True, slots=True)
class KpiLineage:
    kpi_key: str
    owner_unit: str
    steward: str | None
    sources: tuple[SourceLineage, ...]


_KPI = text(
    "SELECT ou.name AS owner_unit, "
    "  coalesce(nullif(st.display_name, ''), st.email) AS steward "
    "FROM kpis k JOIN org_units ou ON ou.id = k.owner_unit_id "
    "LEFT JOIN users st ON st.id = k.steward_id WHERE k.id = :kpi_id LIMIT 1"
)

_SOURCES = f"""
SELECT s.id, s.key, s.name, s.refresh_mode, s.freshness_sla_s, s.active,
       ou.name AS owner_unit, coalesce(nullif(st.display_name, ''), st.email) AS steward,
       ARRAY(SELECT m.key FROM metrics m
             WHERE m.source_id = s.id AND m.id = ANY(:metric_ids) ORDER BY m.key) AS metrics,
       (SELECT max(r.last_ts) FROM rollup_1d r
          JOIN metrics c ON c.id = r.metric_id AND c.source_id = s.id AND c.measure IS NULL
          JOIN org_units u ON u.id = r.org_unit_id AND u.path <@ ANY({IN_SCOPE})
        WHERE r.bucket >= :since) AS newest_event
FROM sources s
JOIN org_units ou ON ou.id = s.owner_unit_id
LEFT JOIN users st ON st.id = s.steward_id
WHERE s.id = ANY(:source_ids)
ORDER BY s.name, s.id
LIMIT :limit
"""


def kpi_lineage(
    connection: Connection, principal: Principal, kpi: KpiDefinition, now: dt.datetime
) -> KpiLineage:
    """Who owns ``kpi`` and which sources feed it, each with its newest event in scope.

    Raises:
        AccessDenied: missing ``kpi:view``.
    """
    principal.require(Permission.KPI_VIEW)
    owner = connection.execute(_KPI, {"kpi_id": kpi.id}).mappings().first()
    source_ids = sorted(kpi.source_ids)
    rows = connection.execute(
        text(_SOURCES),
        {
            "metric_ids": sorted(kpi.metric_ids.values()),
            "source_ids": source_ids,
            "since": now - FRESHNESS_LOOKBACK,
            "limit": max(len(source_ids), 1),
            **scope_params(principal.scope_paths),
        },
    ).mappings()
    sources = tuple(
        SourceLineage(
            id=row["id"],
            key=row["key"],
            name=row["name"],
            owner_unit=row["owner_unit"],
            steward=row["steward"],
            refresh_mode=RefreshMode(row["refresh_mode"]),
            freshness_sla_s=row["freshness_sla_s"],
            active=row["active"],
            metrics=tuple(row["metrics"]),
            newest_event=row["newest_event"],
        )
        for row in rows
    )
    return KpiLineage(
        kpi_key=kpi.key,
        owner_unit=owner["owner_unit"] if owner else "",
        steward=owner["steward"] if owner else None,
        sources=sources,
    )


# --- the other direction: from a source to the metrics and KPIs it feeds --------------------


@dataclass(frozen=True, slots=True)
class KpiRef:
    id: int
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class MetricImpact:
    """A metric of a source and the KPIs whose formulas read it."""

    id: int
    key: str
    name: str
    measure: str | None
    kpis: tuple[KpiRef, ...]


@dataclass(frozen=True, slots=True)
class SourceImpact:
    """Lineage downstream of a source: its metrics, and through them the KPIs it feeds."""

    id: int
    key: str
    name: str
    metrics: tuple[MetricImpact, ...]

    @property
    def kpis(self) -> tuple[KpiRef, ...]:
        """Every KPI the source feeds, once each, by key."""
        found = {k.key: k for m in self.metrics for k in m.kpis}
        return tuple(found[key] for key in sorted(found))


_KPIS_BY_SOURCE = text(
    "SELECT DISTINCT m.source_id, k.id, k.key, k.name FROM kpi_metrics km "
    "JOIN metrics m ON m.id = km.metric_id JOIN kpis k ON k.id = km.kpi_id "
    "WHERE m.source_id = ANY(:source_ids) ORDER BY m.source_id, k.key LIMIT :limit"
)


def kpis_by_source(
    connection: Connection, source_ids: Collection[int], *, limit: int = 10_000
) -> dict[int, tuple[KpiRef, ...]]:
    """The KPIs each source feeds (KPI ← metrics ← source), by KPI key; absent: none."""
    if not source_ids:
        return {}
    found: dict[int, list[KpiRef]] = {}
    rows = connection.execute(_KPIS_BY_SOURCE, {"source_ids": sorted(source_ids), "limit": limit})
    for source_id, kpi_id, key, name in rows:
        found.setdefault(source_id, []).append(KpiRef(kpi_id, key, name))
    return {source_id: tuple(kpis) for source_id, kpis in found.items()}


_SOURCES_BY_KPI = text(
    "SELECT k.key, ARRAY(SELECT DISTINCT m.source_id FROM kpi_metrics km "
    "  JOIN metrics m ON m.id = km.metric_id WHERE km.kpi_id = k.id) "
    "FROM kpis k WHERE (CAST(:keys AS text[]) IS NULL OR k.key = ANY(CAST(:keys AS text[]))) "
    "ORDER BY k.key LIMIT :limit"
)


def sources_by_kpi(
    connection: Connection, kpi_keys: Collection[str] | None = None, *, limit: int = 10_000
) -> dict[str, frozenset[int]]:
    """The sources behind each KPI (``kpi_keys`` None: every KPI), from ``kpi_metrics``."""
    keys = None if kpi_keys is None else sorted(kpi_keys)
    rows = connection.execute(_SOURCES_BY_KPI, {"keys": keys, "limit": limit})
    return {key: frozenset(ids) for key, ids in rows}


_IMPACT = text(
    "SELECT s.id AS source_id, s.key AS source_key, s.name AS source_name, "
    "  m.id, m.key, m.name, m.measure, k.id AS kpi_id, k.key AS kpi_key, k.name AS kpi_name "
    "FROM sources s LEFT JOIN metrics m ON m.source_id = s.id "
    "LEFT JOIN kpi_metrics km ON km.metric_id = m.id LEFT JOIN kpis k ON k.id = km.kpi_id "
    "WHERE s.id = :source_id ORDER BY m.key, k.key LIMIT :limit"
)


def source_impact(
    connection: Connection, principal: Principal, source_id: int, *, limit: int = 10_000
) -> SourceImpact | None:
    """A source's metrics and the KPIs reading each (None: no such source).

    Raises:
        AccessDenied: missing ``kpi:view``.
    """
    principal.require(Permission.KPI_VIEW)
    rows = connection.execute(_IMPACT, {"source_id": source_id, "limit": limit}).mappings().all()
    if not rows:
        return None
    metrics: dict[int, tuple[RowMapping, list[KpiRef]]] = {}
    for row in rows:
        if row["id"] is None:
            continue
        _, kpis = metrics.setdefault(row["id"], (row, []))
        if row["kpi_id"] is not None:
            kpis.append(KpiRef(row["kpi_id"], row["kpi_key"], row["kpi_name"]))
    first = rows[0]
    return SourceImpact(
        id=first["source_id"],
        key=first["source_key"],
        name=first["source_name"],
        metrics=tuple(
            MetricImpact(row["id"], row["key"], row["name"], row["measure"], tuple(kpis))
            for row, kpis in metrics.values()
        ),
    )
