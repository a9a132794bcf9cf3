"""Reads of the admin console's KPI pages: the KPIs in scope, one KPI with its versions, and
the check of a formula being typed (metrics known and in scope).

Everything needs ``catalog:manage``. A KPI belongs to the principal when its owner unit lies
in one of the principal's subtrees; any other KPI (or none with that key) is refused the same
way. A formula may read only metrics of sources whose owner unit is in scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.enums import Direction
from models.formulas import Formula, parse_formula
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, Period, scope_params
from models.queries.executive.definitions import draft_kpi
from models.queries.executive.numbers import KpiValue, kpi_value
from models.queries.scope import root_units

MANAGE = Permission.CATALOG_MANAGE
NO_KPI = "no such KPI in your scope"
VERSIONS_SHOWN = 50
_PERSON = "coalesce(nullif({t}.display_name, ''), {t}.email)"


@dataclass(frozen=True, slots=True)
class AdminKpiRow:
    """One line of the KPIs list."""

    key: str
    name: str
    owner_unit: str
    steward: str | None
    formula: str
    unit: str
    version: int | None
    changed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class AdminKpi:
    """One KPI as its admin page shows and edits it."""

    id: int
    key: str
    name: str
    description: str
    formula: str
    unit: str
    format: str
    direction: Direction
    owner_unit_id: int
    owner_unit: str
    owner_path: str
    steward_id: int | None
    steward: str | None
    target_warn_pct: float | None
    target_crit_pct: float | None


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One stored definition of a KPI."""

    version: int
    at: dt.datetime
    formula: str
    unit: str
    format: str
    direction: Direction
    actor: str
    comment: str


_LATEST = "(SELECT v.{c} FROM kpi_versions v WHERE v.kpi_id = k.id ORDER BY v.version DESC LIMIT 1)"
_LIST = f"""
SELECT k.key, k.name, ou.name, {_PERSON.format(t="st")}, k.formula, k.unit,
       {_LATEST.format(c="version")}, {_LATEST.format(c="created_at")}
FROM kpis k
JOIN org_units ou ON ou.id = k.owner_unit_id
LEFT JOIN users st ON st.id = k.steward_id
WHERE ou.path <@ ANY({IN_SCOPE})
ORDER BY k.name, k.key
LIMIT :limit
"""


def admin_kpis(connection: Connection, principal: Principal, *, limit: int) -> list[AdminKpiRow]:
    """The KPIs whose owner unit is in the principal's scope, by name, with their version.

    Raises:
        AccessDenied: missing ``catalog:manage``.
    """
    principal.require(MANAGE)
    rows = connection.execute(text(_LIST), {"limit": limit, **scope_params(principal.scope_paths)})
    return [AdminKpiRow(*row) for row in rows]


_ONE = f"""
SELECT k.id, k.key, k.name, k.description, k.formula, k.unit, k.format,
       CAST(k.direction AS text), ou.id, ou.name, CAST(ou.path AS text), k.steward_id,
       {_PERSON.format(t="st")}, k.target_warn_pct, k.target_crit_pct
FROM kpis k
JOIN org_units ou ON ou.id = k.owner_unit_id
LEFT JOIN users st ON st.id = k.steward_id
WHERE k.key = :key AND ou.path <@ ANY({IN_SCOPE})
"""


def admin_kpi(connection: Connection, principal: Principal, key: str) -> AdminKpi:
    """The KPI with this key, if its owner unit is in the principal's scope.

    Raises:
        AccessDenied: missing ``catalog:manage``, or no such KPI in scope (indistinguishably).
    """
    principal.require(MANAGE)
    row = connection.execute(text(_ONE), {"key": key, **scope_params(principal.scope_paths)})
    found = row.first()
    if found is None:
        raise AccessDenied(NO_KPI)
    values = list(found)
    values[7] = Direction(values[7])
    return AdminKpi(*values)


def kpi_exists(connection: Connection, key: str) -> bool:
    """Whether any KPI (in scope or not) has this key: a new KPI may not take it."""
    found = connection.execute(text("SELECT 1 FROM kpis WHERE key = :key"), {"key": key})
    return found.first() is not None


def kpi_version_rows(connection: Connection, kpi: AdminKpi) -> list[VersionRow]:
    """The KPI's stored definitions, newest first (``kpi`` comes from :func:`admin_kpi`)."""
    rows = connection.execute(
        text(
            "SELECT version, created_at, formula, unit, format, CAST(direction AS text), actor, "
            "comment FROM kpi_versions WHERE kpi_id = :kpi ORDER BY version DESC LIMIT :limit"
        ),
        {"kpi": kpi.id, "limit": VERSIONS_SHOWN},
    )
    return [
        VersionRow(v, at, formula, unit, fmt, Direction(direction), actor, comment)
        for v, at, formula, unit, fmt, direction, actor, comment in rows
    ]


def check_formula(connection: Connection, principal: Principal, formula: str) -> Formula:
    """The formula parsed, if it reads only metrics of sources in the principal's scope.

    A metric of a source out of scope reads as unknown, exactly like a metric that does not
    exist, so the check cannot be used to probe other units' sources.

    Raises:
        AccessDenied: missing ``catalog:manage``.
        FormulaError: malformed, or an unknown metric; with the position of the problem.
    """
    principal.require(MANAGE)
    read = parse_formula(formula).metric_keys
    rows = connection.execute(
        text(
            "SELECT m.key FROM metrics m "
            "JOIN sources s ON s.id = m.source_id JOIN org_units ou ON ou.id = s.owner_unit_id "
            f"WHERE m.key = ANY(:keys) AND ou.path <@ ANY({IN_SCOPE})"
        ),
        {"keys": sorted(read), **scope_params(principal.scope_paths)},
    )
    return parse_formula(formula, known_metrics=frozenset(rows.scalars()))


PREVIEW_DAYS = 7


def preview_value(
    connection: Connection,
    principal: Principal,
    formula: str,
    now: dt.datetime,
    *,
    unit: str = "",
    format: str = ",.2f",
) -> KpiValue:
    """What a formula being typed gives over the last 7 days at the principal's first top
    unit, read as the KPI page reads a stored KPI (:func:`models.queries.executive.numbers`).

    Raises:
        AccessDenied: missing ``catalog:manage`` or ``kpi:view``; no unit in scope.
        FormulaError: as :func:`check_formula`.
    """
    check_formula(connection, principal, formula)
    tops = root_units(connection, principal)
    if not tops:
        raise AccessDenied("your scope has no org unit")
    draft = draft_kpi(connection, principal, formula, unit=unit, format=format)
    period = Period.covering(now - dt.timedelta(days=PREVIEW_DAYS), now)
    return kpi_value(connection, principal, draft, tops[0], period)
