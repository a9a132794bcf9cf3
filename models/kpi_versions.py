"""KPI definition versions: each change of a KPI's formula, unit, format or direction is kept.

Written by :func:`models.catalog.save_kpi`, the one write every path takes (the catalogue file,
``upsert_kpi``, the admin console's KPI screen).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.kpis import Kpi, KpiVersion

DEFINITION = ("formula", "unit", "format", "direction")
"""The columns whose change makes a new version (what the KPI's numbers mean)."""

COMMENT_MAX = 500


def latest_version(session: Session, kpi_id: int) -> KpiVersion | None:
    return session.scalar(
        select(KpiVersion)
        .where(KpiVersion.kpi_id == kpi_id)
        .order_by(KpiVersion.version.desc())
        .limit(1)
    )


def record_version(session: Session, kpi: Kpi, actor: Actor, *, comment: str = "") -> int | None:
    """Store the KPI's definition as a new version if it differs from the latest one.

    Returns:
        the new version's number, or None when the definition is unchanged.
    """
    latest = latest_version(session, kpi.id)
    if latest is not None and all(
        getattr(latest, name) == getattr(kpi, name) for name in DEFINITION
    ):
        return None
    number = 1 if latest is None else latest.version + 1
    session.add(
        KpiVersion(
            kpi_id=kpi.id,
            version=number,
            formula=kpi.formula,
            unit=kpi.unit,
            format=kpi.format,
            direction=kpi.direction,
            changed_by=actor.user_id,
            actor=actor.name,
            comment=comment[:COMMENT_MAX],
        )
    )
    session.flush()
    return number
