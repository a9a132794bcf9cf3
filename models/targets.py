"""Target plans: a KPI's target for an org unit and a month, fiscal quarter or fiscal year.

The table, the plain specs the catalogue file maps onto, and their idempotent, audited
upsert and export. How a target is found for a unit and a time range is in
:mod:`models.target_rules` (pure) and :mod:`models.queries.targets` (the reads);
``docs/targets.md`` explains the model.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, UniqueConstraint, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Actor, record_change
from models.base import Base, CreatedAt, IntPK
from models.enums import Direction, TargetAllocation, TargetGrain
from models.kpis import Kpi
from models.org import OrgUnit
from models.target_periods import PeriodKeyError, parse_period, period_key
from models.types import value_enum

AUDIT_TARGET = "target_plan"


class TargetPlan(Base):
    """One plan value: ``kpi``'s target for ``org_unit`` over the period starting
    ``period_start`` (a month, fiscal quarter or fiscal year, by ``grain``)."""

    __tablename__ = "target_plans"
    __table_args__ = (
        UniqueConstraint("kpi_id", "org_unit_id", "grain", "period_start"),
        CheckConstraint("EXTRACT(DAY FROM period_start) = 1", name="period_starts_a_month"),
        CheckConstraint("warn_pct IS NULL OR warn_pct > 0", name="warn_pct_positive"),
        CheckConstraint("crit_pct IS NULL OR crit_pct > 0", name="crit_pct_positive"),
    )

    id: Mapped[IntPK]
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    grain: Mapped[TargetGrain] = mapped_column(value_enum(TargetGrain, "target_grain"))
    period_start: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    allocation: Mapped[TargetAllocation] = mapped_column(
        value_enum(TargetAllocation, "target_allocation"), server_default="explicit"
    )
    """How the value passes to child units without a plan of their own."""
    warn_pct: Mapped[float | None] = mapped_column(Float)
    """Warning past this % of the target (below for higher-is-better KPIs, above for
    lower-is-better ones); None: the KPI's default."""
    crit_pct: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=text("now()"))


class TargetPlanError(ValueError):
    """A spec that cannot be applied; the message names the spec and what is wrong."""


@dataclass(frozen=True, slots=True)
class TargetPlanSpec:
    """A plan value as the catalogue file writes it (plain, serialisable fields).

    ``period`` is a key of ``grain`` (``2026-01``, ``2026-Q1``, ``FY2026`` or the first day);
    ``warn_pct``/``crit_pct`` are percentages of the target (e.g. 95 and 85 for a
    higher-is-better KPI, 105 and 115 for a lower-is-better one), None for the KPI's default.
    """

    kpi: str
    unit: str
    grain: TargetGrain
    period: str
    value: float
    allocation: TargetAllocation = TargetAllocation.EXPLICIT
    warn_pct: float | None = None
    crit_pct: float | None = None

    def label(self) -> str:
        return f"target {self.kpi}/{self.unit}/{self.grain.value} {self.period}"


@dataclass(frozen=True, slots=True)
class TargetPlanChange:
    """What :func:`apply_target_plans` did to one plan (``created`` or ``updated``), with the
    changed values before and after."""

    action: str
    kpi: str
    unit: str
    grain: TargetGrain
    period: str
    before: dict[str, Any]
    after: dict[str, Any]


def _checked(spec: TargetPlanSpec) -> None:
    if not math.isfinite(spec.value):
        raise TargetPlanError(f"{spec.label()}: the value must be a finite number")
    for name in ("warn_pct", "crit_pct"):
        pct = getattr(spec, name)
        if pct is not None and not (math.isfinite(pct) and pct > 0):
            raise TargetPlanError(f"{spec.label()}: {name} must be a positive percentage")


def _values(spec: TargetPlanSpec) -> dict[str, Any]:
    return {
        "value": float(spec.value),
        "allocation": spec.allocation,
        "warn_pct": spec.warn_pct,
        "crit_pct": spec.crit_pct,
    }


PlanKey = tuple[int, int, TargetGrain, dt.date]
"""(KPI id, org unit id, grain, period start): what identifies a plan."""


def _check_levels(spec: TargetPlanSpec, kpi: Kpi) -> None:
    """The percentages must lie on the KPI's bad side of the target, critical beyond warning."""
    higher = kpi.direction is Direction.HIGHER_IS_BETTER
    side = "at most" if higher else "at least"
    for name in ("warn_pct", "crit_pct"):
        pct = getattr(spec, name)
        if pct is not None and (pct > 100 if higher else pct < 100):
            raise TargetPlanError(
                f"{spec.label()}: {kpi.name} is {kpi.direction.value.replace('_', ' ')}, so "
                f"{name} must be {side} 100 (% of the target)"
            )
    warn, crit = spec.warn_pct, spec.crit_pct
    if warn is not None and crit is not None and (crit > warn if higher else crit < warn):
        raise TargetPlanError(f"{spec.label()}: crit_pct must lie beyond warn_pct")


def _resolve(
    session: Session, specs: list[TargetPlanSpec], fiscal_start_month: int
) -> dict[PlanKey, TargetPlanSpec]:
    """Every spec checked and keyed; raises TargetPlanError at the first bad one."""
    kpis = {
        k.key: k for k in session.scalars(select(Kpi).where(Kpi.key.in_({s.kpi for s in specs})))
    }
    units = dict(
        session.execute(
            select(OrgUnit.key, OrgUnit.id).where(OrgUnit.key.in_({s.unit for s in specs}))
        ).all()
    )
    resolved: dict[PlanKey, TargetPlanSpec] = {}
    for spec in specs:
        _checked(spec)
        kpi, unit_id = kpis.get(spec.kpi), units.get(spec.unit)
        if kpi is None:
            raise TargetPlanError(f"{spec.label()}: there is no KPI with key {spec.kpi!r}")
        if unit_id is None:
            raise TargetPlanError(f"{spec.label()}: there is no org unit with key {spec.unit!r}")
        _check_levels(spec, kpi)
        try:
            start = parse_period(spec.period, spec.grain, fiscal_start_month)
        except PeriodKeyError as exc:
            raise TargetPlanError(f"{spec.label()}: {exc}") from None
        key = (kpi.id, unit_id, spec.grain, start)
        if key in resolved:
            raise TargetPlanError(f"{spec.label()}: this plan is given twice")
        resolved[key] = spec
    return resolved


def apply_target_plans(
    session: Session, actor: Actor, specs: list[TargetPlanSpec], *, fiscal_start_month: int
) -> list[TargetPlanChange]:
    """Create or update the plans of ``specs``; a spec equal to its plan changes nothing.

    Every change is audited (``target_plan.create`` / ``target_plan.update``) in the caller's
    transaction; plans not named by a spec are left alone. All specs are checked before any is
    written, so bad input changes nothing. ``fiscal_start_month`` reads the quarter and year
    keys (``Settings.fiscal_year_start_month``).

    Raises:
        TargetPlanError: an unknown KPI or unit, a bad period key, value or percentage, or
            the same plan named twice.
    """
    resolved = _resolve(session, specs, fiscal_start_month)
    if not resolved:
        return []
    existing = {
        (p.kpi_id, p.org_unit_id, p.grain, p.period_start): p
        for p in session.scalars(
            select(TargetPlan).where(
                TargetPlan.kpi_id.in_({k[0] for k in resolved}),
                TargetPlan.org_unit_id.in_({k[1] for k in resolved}),
            )
        )
    }
    changes = [
        _upsert(session, actor, key, spec, existing.get(key)) for key, spec in resolved.items()
    ]
    session.flush()
    return [change for change in changes if change is not None]


def _upsert(
    session: Session,
    actor: Actor,
    key: PlanKey,
    spec: TargetPlanSpec,
    row: TargetPlan | None,
) -> TargetPlanChange | None:
    kpi_id, unit_id, grain, start = key
    audit_id = f"{spec.kpi}/{spec.unit}/{grain.value}/{start.isoformat()}"
    values = _values(spec)
    if row is None:
        session.add(
            TargetPlan(
                kpi_id=kpi_id, org_unit_id=unit_id, grain=grain, period_start=start, **values
            )
        )
        record_change(
            session, actor, f"{AUDIT_TARGET}.create", AUDIT_TARGET, audit_id, after=values
        )
        return TargetPlanChange("created", spec.kpi, spec.unit, grain, spec.period, {}, values)
    before = {name: getattr(row, name) for name in values if getattr(row, name) != values[name]}
    if not before:
        return None
    after = {name: values[name] for name in before}
    for name, value in after.items():
        setattr(row, name, value)
    row.updated_at = dt.datetime.now(dt.UTC)
    record_change(
        session, actor, f"{AUDIT_TARGET}.update", AUDIT_TARGET, audit_id, before=before, after=after
    )
    return TargetPlanChange("updated", spec.kpi, spec.unit, grain, spec.period, before, after)


def export_target_plans(session: Session, *, fiscal_start_month: int) -> list[TargetPlanSpec]:
    """Every plan as a spec (by KPI, unit, grain and period); applying them changes nothing."""
    rows = session.execute(
        select(Kpi.key, OrgUnit.key, TargetPlan)
        .join(Kpi, Kpi.id == TargetPlan.kpi_id)
        .join(OrgUnit, OrgUnit.id == TargetPlan.org_unit_id)
        .order_by(Kpi.key, OrgUnit.path, TargetPlan.grain, TargetPlan.period_start)
    )
    return [
        TargetPlanSpec(
            kpi=kpi_key,
            unit=unit_key,
            grain=plan.grain,
            period=period_key(plan.grain, plan.period_start, fiscal_start_month),
            value=plan.value,
            allocation=plan.allocation,
            warn_pct=plan.warn_pct,
            crit_pct=plan.crit_pct,
        )
        for kpi_key, unit_key, plan in rows
    ]
