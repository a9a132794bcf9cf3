"""Lineage of a KPI: its owner and steward, and the sources (with their metrics) that feed it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.enums import RefreshMode
from models.permissions import Permission, Principal
from models.queries.common import IN_SCOPE, scope_params
from models.queries.kpis import KpiDefinition

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
