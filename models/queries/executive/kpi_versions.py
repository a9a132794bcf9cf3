"""KPI definition versions: the changes of a KPI's definition within a period (KPI page)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.enums import Direction
from models.permissions import Permission, Principal

SHOWN = 20
"""At most this many changes are read for one period (newest kept)."""


@dataclass(frozen=True, slots=True)
class DefinitionChange:
    """A KPI's definition changed to ``version`` at ``at``; what it was and what it became."""

    version: int
    at: dt.datetime
    formula: str
    previous_formula: str
    unit: str
    previous_unit: str
    format: str
    direction: Direction
    actor: str
    comment: str


_CHANGES = text(
    "SELECT * FROM ("
    " SELECT v.version, v.created_at AS at, v.formula, p.formula AS previous_formula,"
    "  v.unit, p.unit AS previous_unit, v.format, CAST(v.direction AS text) AS direction,"
    "  v.actor, v.comment"
    " FROM kpi_versions v"
    " JOIN kpi_versions p ON p.kpi_id = v.kpi_id AND p.version = v.version - 1"
    " WHERE v.kpi_id = :kpi AND v.created_at >= :start AND v.created_at < :end"
    " ORDER BY v.version DESC LIMIT :limit) AS newest "
    "ORDER BY version"
)


def definition_changes(
    connection: Connection,
    principal: Principal,
    kpi_id: int,
    start: dt.datetime,
    end: dt.datetime,
) -> list[DefinitionChange]:
    """The KPI's definition changes made in ``[start, end)``, oldest first (version 1, the
    first definition, is not a change). KPI definitions are not scoped: ``kpi:view`` suffices.
    """
    principal.require(Permission.KPI_VIEW)
    rows = connection.execute(
        _CHANGES, {"kpi": kpi_id, "start": start, "end": end, "limit": SHOWN}
    ).mappings()
    return [
        DefinitionChange(
            version=row["version"],
            at=row["at"],
            formula=row["formula"],
            previous_formula=row["previous_formula"],
            unit=row["unit"],
            previous_unit=row["previous_unit"],
            format=row["format"],
            direction=Direction(row["direction"]),
            actor=row["actor"],
            comment=row["comment"],
        )
        for row in rows
    ]
