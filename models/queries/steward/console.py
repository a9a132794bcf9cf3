"""Reads of the steward console: filter choices of the incident queue, who an incident can be
assigned to, and the lineage map (source → metrics → KPIs) of every source in scope.

Like :mod:`models.queries.steward.incidents` and :mod:`models.queries.steward.dq_health`,
everything is scoped by the source's owner unit: a principal sees the sources (and their
incidents) owned by a unit in one of their subtrees.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, text

from models.enums import RefreshMode
from models.permissions import Permission, Principal
from models.quality.escalation import Level, Ownership, recipients
from models.queries.common import IN_SCOPE, scope_params
from models.queries.steward.incidents import Person, get_incident
from models.queries.steward.lineage import KpiRef, MetricImpact


@dataclass(frozen=True, slots=True)
class SourceRef:
    id: int
    key: str
    name: str


_SOURCES = f"""
SELECT s.id, s.key, s.name FROM sources s JOIN org_units ou ON ou.id = s.owner_unit_id
WHERE ou.path <@ ANY({IN_SCOPE}) ORDER BY s.name, s.id LIMIT :limit
"""


def incident_sources(
    connection: Connection, principal: Principal, *, limit: int = 500
) -> list[SourceRef]:
    """The sources whose incidents the principal may manage (owner unit in scope), by name.

    Raises:
        AccessDenied: missing ``incident:manage``.
    """
    principal.require(Permission.INCIDENT_MANAGE)
    rows = connection.execute(
        text(_SOURCES), {"limit": limit, **scope_params(principal.scope_paths)}
    )
    return [SourceRef(id_, key, name) for id_, key, name in rows]


_PEOPLE = f"""
SELECT u.id, coalesce(nullif(u.display_name, ''), u.email) AS name
FROM users u
WHERE EXISTS (
    SELECT 1 FROM incidents i JOIN org_units ou ON ou.id = i.owner_unit_id
    WHERE (i.owner_user_id = u.id OR i.assignee_id = u.id) AND ou.path <@ ANY({IN_SCOPE}))
ORDER BY 2, u.id
LIMIT :limit
"""


def incident_people(
    connection: Connection, principal: Principal, *, limit: int = 500
) -> list[Person]:
    """Everyone who owns (as a source's steward) or is assigned an incident in scope, by name.

    Raises:
        AccessDenied: missing ``incident:manage``.
    """
    principal.require(Permission.INCIDENT_MANAGE)
    rows = connection.execute(
        text(_PEOPLE), {"limit": limit, **scope_params(principal.scope_paths)}
    )
    return [Person(id_, name) for id_, name in rows]


def assignable_users(
    connection: Connection, principal: Principal, incident_id: int, *, limit: int = 200
) -> list[Person]:
    """The active users an incident can be assigned to: those who may manage incidents of its
    source's owner unit (what :func:`models.quality.actions.assign` accepts).

    Raises:
        AccessDenied: missing ``incident:manage``; IncidentNotFound: not in scope.
    """
    incident = get_incident(connection, principal, incident_id)
    found = recipients(
        connection, Ownership(incident.owner_unit_id, None, None), Level.OWNER_UNIT, limit=limit
    )
    return sorted((Person(r.user_id, r.name) for r in found), key=lambda p: (p.name, p.id))


@dataclass(frozen=True, slots=True)
class LineageSource:
    """A source in scope, who owns it, and downstream: its metrics and the KPIs reading them."""

    id: int
    key: str
    name: str
    owner_unit: str
    steward: str | None
    refresh_mode: RefreshMode
    active: bool
    metrics: tuple[MetricImpact, ...]

    @property
    def kpis(self) -> tuple[KpiRef, ...]:
        """Every KPI the source feeds, once each, by key."""
        found = {k.key: k for m in self.metrics for k in m.kpis}
        return tuple(found[key] for key in sorted(found))


_LINEAGE = f"""
SELECT s.id AS source_id, s.key AS source_key, s.name AS source_name, s.active,
       CAST(s.refresh_mode AS text) AS refresh_mode, ou.name AS owner_unit,
       coalesce(nullif(st.display_name, ''), st.email) AS steward,
       m.id AS metric_id, m.key AS metric_key, m.name AS metric_name, m.measure,
       k.id AS kpi_id, k.key AS kpi_key, k.name AS kpi_name
FROM sources s
JOIN org_units ou ON ou.id = s.owner_unit_id
LEFT JOIN users st ON st.id = s.steward_id
LEFT JOIN metrics m ON m.source_id = s.id
LEFT JOIN kpi_metrics km ON km.metric_id = m.id
LEFT JOIN kpis k ON k.id = km.kpi_id
WHERE ou.path <@ ANY({IN_SCOPE})
ORDER BY s.name, s.id, m.measure NULLS FIRST, m.key, k.key
LIMIT :limit
"""


def lineage_map(
    connection: Connection, principal: Principal, *, limit: int = 10_000
) -> list[LineageSource]:
    """Every source in scope (inactive ones too) with its metrics (the event count first) and
    the KPIs whose formulas read each, in one query.

    Raises:
        AccessDenied: missing ``kpi:view``.
    """
    principal.require(Permission.KPI_VIEW)
    rows = connection.execute(
        text(_LINEAGE), {"limit": limit, **scope_params(principal.scope_paths)}
    ).mappings()
    firsts: dict[int, RowMapping] = {}
    metrics: dict[int, dict[int, tuple[RowMapping, list[KpiRef]]]] = {}
    for row in rows:
        firsts.setdefault(row["source_id"], row)
        found = metrics.setdefault(row["source_id"], {})
        if row["metric_id"] is None:
            continue
        _, kpis = found.setdefault(row["metric_id"], (row, []))
        if row["kpi_id"] is not None:
            kpis.append(KpiRef(row["kpi_id"], row["kpi_key"], row["kpi_name"]))
    return [_lineage_source(first, metrics[source_id]) for source_id, first in firsts.items()]


def _lineage_source(
    first: RowMapping, metrics: dict[int, tuple[RowMapping, list[KpiRef]]]
) -> LineageSource:
    return LineageSource(
        id=first["source_id"],
        key=first["source_key"],
        name=first["source_name"],
        owner_unit=first["owner_unit"],
        steward=first["steward"],
        refresh_mode=RefreshMode(first["refresh_mode"]),
        active=first["active"],
        metrics=tuple(
            MetricImpact(m["metric_id"], m["metric_key"], m["metric_name"], m["measure"], tuple(k))
            for m, k in metrics.values()
        ),
    )
