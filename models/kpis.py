"""KPIs: formulas over metric aggregates, with owners, targets and thresholds."""

from __future__ import annotations

from sqlalchemy import ARRAY, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, IntPK, Key
from models.enums import Direction, Granularity, OrgLevel
from models.types import value_enum


class Kpi(Base):
    """A key performance indicator; ``formula`` is parsed by ``models.formulas``."""

    __tablename__ = "kpis"

    id: Mapped[IntPK]
    key: Mapped[Key]
    name: Mapped[str]
    description: Mapped[str] = mapped_column(server_default="")
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    steward_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    formula: Mapped[str]
    unit: Mapped[str] = mapped_column(server_default="")
    format: Mapped[str] = mapped_column(server_default=",.2f")
    direction: Mapped[Direction] = mapped_column(
        value_enum(Direction, "direction"), server_default="higher_is_better"
    )
    target: Mapped[float | None]
    """The single target of before target plans; kept, no longer judged by (see
    ``models.targets`` and migration 0013)."""
    warn_threshold: Mapped[float | None]
    crit_threshold: Mapped[float | None]
    target_warn_pct: Mapped[float | None]
    """The default warning level of the KPI's target plans, in % of the target."""
    target_crit_pct: Mapped[float | None]
    """The default critical level of the KPI's target plans, in % of the target."""
    default_granularity: Mapped[Granularity] = mapped_column(
        value_enum(Granularity, "granularity"), server_default="hour"
    )
    levels: Mapped[list[OrgLevel]] = mapped_column(
        ARRAY(value_enum(OrgLevel, "org_level")),
        server_default="{company,region,country,business_unit}",
    )
    created_at: Mapped[CreatedAt]


class KpiMetric(Base):
    """Lineage: the metrics a KPI's formula reads (kept in step with the formula)."""

    __tablename__ = "kpi_metrics"

    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"), primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"), primary_key=True)


class KpiVersion(Base):
    """One definition of a KPI (formula, unit, format, direction); the highest is the current.

    Written by :func:`models.kpi_versions.save_kpi` on every path that changes a KPI.
    """

    __tablename__ = "kpi_versions"
    __table_args__ = (UniqueConstraint("kpi_id", "version"),)

    id: Mapped[IntPK]
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpis.id", ondelete="CASCADE"))
    version: Mapped[int]
    formula: Mapped[str]
    unit: Mapped[str] = mapped_column(server_default="")
    format: Mapped[str] = mapped_column(server_default=",.2f")
    direction: Mapped[Direction] = mapped_column(value_enum(Direction, "direction"))
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(server_default="")
    """Who wrote this version (a user's name, or a process such as ``system:migration``)."""
    comment: Mapped[str] = mapped_column(server_default="")
    """Why the definition changed, as its author said."""
    created_at: Mapped[CreatedAt]
