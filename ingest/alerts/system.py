"""Who the alert evaluation reads as: a system principal that sees one rule's unit."""

from __future__ import annotations

from models.permissions import Permission, Principal

SYSTEM = "system:alerts"


def system_principal(unit_path: str | None = None) -> Principal:
    """``kpi:view`` on the rule's unit only (or on no unit at all: enough to read KPI
    definitions), so a rule can never read past its own scope."""
    paths = () if unit_path is None else (unit_path,)
    return Principal(None, frozenset({Permission.KPI_VIEW}), paths, name=SYSTEM)
