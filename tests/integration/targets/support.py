"""A small organisation with two KPIs for the target tests: group → EMEA (Germany), Americas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ingest.demo.catalog import COMPANY, ORDERS, REGIONS, SUPPORT_TICKETS
from models.audit import Actor
from models.catalog import (
    KpiSpec,
    OrgUnitSpec,
    org_unit_ids_by_key,
    source_ids_by_key,
    upsert_kpi,
    upsert_org_unit,
    upsert_source,
)
from models.enums import Direction, OrgLevel
from models.logs import AuditLog
from models.org import OrgUnit
from models.permissions import ROLE_PERMISSIONS, Principal
from models.targets import TargetPlan, TargetPlanChange, TargetPlanSpec, apply_target_plans
from models.writes import EventRow, write_events

ACTOR = Actor("system:tests")
GERMANY = OrgUnitSpec("de", "Germany", OrgLevel.COUNTRY, "emea")
KPIS = (
    KpiSpec("revenue", "Revenue", "sum(orders.amount)", "group", "EUR", ",.0f",
            Direction.HIGHER_IS_BETTER, None, None, None, target_warn_pct=95.0,
            target_crit_pct=85.0),
    KpiSpec("resolution", "Resolution time", "avg(support_tickets.resolution_minutes)", "group",
            "min", ",.0f", Direction.LOWER_IS_BETTER, None, None, None),
)  # fmt: skip


def seed_org(engine: Engine) -> tuple[dict[str, int], dict[str, int]]:
    """Units and sources by key."""
    with Session(engine) as session, session.begin():
        for unit in (COMPANY, *REGIONS, GERMANY):
            upsert_org_unit(session, unit, ACTOR)
        for source in (ORDERS, SUPPORT_TICKETS):
            upsert_source(session, source, ACTOR)
        for kpi in KPIS:
            upsert_kpi(session, kpi, ACTOR)
        return org_unit_ids_by_key(session), source_ids_by_key(session)


def apply(
    engine: Engine, specs: Sequence[TargetPlanSpec], fiscal_start_month: int = 1
) -> list[TargetPlanChange]:
    with Session(engine) as session, session.begin():
        return apply_target_plans(
            session, ACTOR, list(specs), fiscal_start_month=fiscal_start_month
        )


def plan_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(TargetPlan)) or 0


def audit_rows(engine: Engine) -> list[AuditLog]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AuditLog).where(AuditLog.target_type == "target_plan").order_by(AuditLog.id)
            )
        )


def principal(engine: Engine, *keys: str) -> Principal:
    """An executive whose scope is the subtrees of the units ``keys``."""
    with Session(engine) as session:
        paths = session.scalars(select(OrgUnit.path).where(OrgUnit.key.in_(keys))).all()
    return Principal(None, ROLE_PERMISSIONS["executive"], tuple(str(p) for p in paths))


def write_orders(
    engine: Engine, sources: dict[str, int], unit_id: int, ts: dt.datetime, amounts: Sequence[float]
) -> None:
    rows = [
        EventRow(ts, sources["orders"], f"o-{unit_id}-{ts:%Y%m%d%H%M}-{i}", unit_id, {"amount": a})
        for i, a in enumerate(amounts)
    ]
    write_events(engine, rows)
