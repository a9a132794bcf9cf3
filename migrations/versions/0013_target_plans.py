"""Target plans: a KPI's target per org unit and month, fiscal quarter or fiscal year.

Adds ``target_plans`` (one row per KPI, unit, grain and period start, with the value, how it
passes to child units without a plan, and optional warning and critical levels in % of the
target) and the KPI's default levels ``kpis.target_warn_pct`` / ``kpis.target_crit_pct``.

The old single target is carried over, and its columns (``kpis.target``, ``warn_threshold``,
``crit_threshold``) are kept untouched, so a downgrade loses nothing:

- every KPI with a ``target`` gets, for every top unit of the organisation (a unit without a
  parent), one ``explicit`` monthly plan for each month of the current UTC year. The old target
  of an additive KPI (a sum or a count) was a daily figure, so the month's value is the target
  times the month's days; other KPIs (ratios, averages) keep the target as it was;
- the KPI's default levels become its old thresholds in % of its old target (e.g. a target of
  38,000 with a warning at 33,000 gives 86.84 %), when both are set and the target is not 0.

Units below the top have no plan afterwards, hence no target: they were judged against the
whole organisation's number before, which was wrong for them.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.formulas import FormulaError, parse_formula

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)
_ENUMS = {
    "target_grain": ("month", "quarter", "year"),
    "target_allocation": ("explicit", "equal", "share"),
}


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*_ENUMS[name], name=name, create_type=False)


def upgrade() -> None:
    bind = op.get_bind()
    for name in _ENUMS:
        _enum(name).create(bind, checkfirst=False)
    op.add_column("kpis", sa.Column("target_warn_pct", sa.Float(), nullable=True))
    op.add_column("kpis", sa.Column("target_crit_pct", sa.Float(), nullable=True))
    op.create_table(
        "target_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("grain", _enum("target_grain"), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column(
            "allocation", _enum("target_allocation"), server_default="explicit", nullable=False
        ),
        sa.Column("warn_pct", sa.Float(), nullable=True),
        sa.Column("crit_pct", sa.Float(), nullable=True),
        sa.Column("created_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", _TZ, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "EXTRACT(DAY FROM period_start) = 1", name=op.f("ck_target_plans_period_starts_a_month")
        ),
        sa.CheckConstraint(
            "warn_pct IS NULL OR warn_pct > 0", name=op.f("ck_target_plans_warn_pct_positive")
        ),
        sa.CheckConstraint(
            "crit_pct IS NULL OR crit_pct > 0", name=op.f("ck_target_plans_crit_pct_positive")
        ),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_target_plans_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_target_plans_org_unit_id_org_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_plans")),
        sa.UniqueConstraint(
            "kpi_id",
            "org_unit_id",
            "grain",
            "period_start",
            name=op.f("uq_target_plans_kpi_id_org_unit_id_grain_period_start"),
        ),
    )
    _carry_over(bind)


def _additive(formula: str) -> bool:
    try:
        return parse_formula(formula).is_additive
    except FormulaError:
        return False  # a broken formula computes nothing; its target is kept as it was


def _pct(level: float | None, target: float) -> float | None:
    if level is None or target == 0 or level / target <= 0:
        return None
    return round(level / target * 100, 2)


def _carry_over(bind: sa.Connection) -> None:
    """The old single targets as monthly plans of the top units (see the module)."""
    year = dt.datetime.now(dt.UTC).year
    tops = bind.execute(sa.text("SELECT id FROM org_units WHERE parent_id IS NULL")).scalars().all()
    kpis = bind.execute(
        sa.text(
            "SELECT id, formula, target, warn_threshold, crit_threshold FROM kpis "
            "WHERE target IS NOT NULL"
        )
    ).all()
    for kpi_id, formula, target, warn, crit in kpis:
        bind.execute(
            sa.text("UPDATE kpis SET target_warn_pct = :w, target_crit_pct = :c WHERE id = :k"),
            {"w": _pct(warn, target), "c": _pct(crit, target), "k": kpi_id},
        )
        additive = _additive(formula)
        rows = [
            {
                "k": kpi_id,
                "u": unit_id,
                "s": dt.date(year, month, 1),
                "v": target * calendar.monthrange(year, month)[1] if additive else target,
            }
            for unit_id in tops
            for month in range(1, 13)
        ]
        if rows:
            bind.execute(
                sa.text(
                    "INSERT INTO target_plans (kpi_id, org_unit_id, grain, period_start, value) "
                    "VALUES (:k, :u, 'month', :s, :v)"
                ),
                rows,
            )


def downgrade() -> None:
    op.drop_table("target_plans")
    op.drop_column("kpis", "target_crit_pct")
    op.drop_column("kpis", "target_warn_pct")
    bind = op.get_bind()
    for name in reversed(list(_ENUMS)):
        _enum(name).drop(bind, checkfirst=False)
