"""The ``targets`` section: target plans, a KPI's target for an org unit and a month, quarter
or year (``docs/targets.md``), written and read through :mod:`models.targets`.

An entry is identified by KPI, unit, grain and period; the period is read with the fiscal
year start of the installation (:func:`fiscal_year`, which the command line sets from
``NORTHSTAR_FISCAL_YEAR_START_MONTH``), so ``2026-Q1`` and ``2026-01-01`` name the same quarter.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.catalog_file import kpis
from models.catalog_file.changes import Change, entry_change
from models.catalog_file.document import Document
from models.catalog_file.lookups import unit_ids
from models.catalog_file.problems import Problem
from models.enums import TargetAllocation, TargetGrain
from models.kpis import Kpi
from models.target_periods import PeriodKeyError, parse_period, period_key
from models.targets import TargetPlanSpec, apply_target_plans, export_target_plans

NAME = "targets"
_FISCAL_START: contextvars.ContextVar[int] = contextvars.ContextVar("fiscal_start", default=1)


@contextlib.contextmanager
def fiscal_year(start_month: int) -> Iterator[None]:
    """Read and write quarter and year periods with this fiscal year start (1 = January)."""
    token = _FISCAL_START.set(start_month)
    try:
        yield
    finally:
        _FISCAL_START.reset(token)


class TargetEntry(BaseModel):
    """One plan value: ``value`` for ``kpi`` at ``unit`` over ``period`` (a key of ``grain``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kpi: str = Field(min_length=1, max_length=100)
    unit: str = Field(min_length=1, max_length=100)
    grain: TargetGrain
    period: str = Field(min_length=1, max_length=20)
    value: float = Field(allow_inf_nan=False)
    allocation: TargetAllocation = TargetAllocation.EXPLICIT
    warn_pct: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    crit_pct: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @property
    def key(self) -> str:
        """``revenue/emea/month/2026-01``: the plan's identity, its period normalised."""
        return f"{self.kpi}/{self.unit}/{self.grain.value}/{_normalised(self.grain, self.period)}"

    def spec(self) -> TargetPlanSpec:
        return TargetPlanSpec(
            kpi=self.kpi,
            unit=self.unit,
            grain=self.grain,
            period=_normalised(self.grain, self.period),
            value=self.value,
            allocation=self.allocation,
            warn_pct=self.warn_pct,
            crit_pct=self.crit_pct,
        )


def _normalised(grain: TargetGrain, period: str) -> str:
    start = _FISCAL_START.get()
    try:
        return period_key(grain, parse_period(period, grain, start), start)
    except PeriodKeyError:
        return period


def _shape(spec: TargetPlanSpec) -> dict[str, Any]:
    return {
        "kpi": spec.kpi,
        "unit": spec.unit,
        "grain": spec.grain.value,
        "period": spec.period,
        "value": spec.value,
        "allocation": spec.allocation.value,
        "warn_pct": spec.warn_pct,
        "crit_pct": spec.crit_pct,
    }


def current(session: Session) -> dict[str, dict[str, Any]]:
    """The stored plans in the file's shape, by KPI, unit, grain and period."""
    specs = export_target_plans(session, fiscal_start_month=_FISCAL_START.get())
    return {f"{s.kpi}/{s.unit}/{s.grain.value}/{s.period}": _shape(s) for s in specs}


def check(session: Session, document: Document) -> list[Problem]:
    """Each plan names a KPI and a unit of the files or the database, and a valid period."""
    known_kpis = set(session.scalars(select(Kpi.key))) | document.keys(kpis.NAME)
    known_units = set(unit_ids(session)) | document.keys("org_units")
    start = _FISCAL_START.get()
    problems = []
    for parsed, entry in document.of(NAME, TargetEntry):
        if entry.kpi not in known_kpis and not document.is_refused(kpis.NAME, entry.kpi):
            problems.append(Problem(parsed.where, "kpi", f"unknown KPI {entry.kpi!r}"))
        if entry.unit not in known_units and not document.is_refused("org_units", entry.unit):
            problems.append(Problem(parsed.where, "unit", f"unknown org unit {entry.unit!r}"))
        try:
            parse_period(entry.period, entry.grain, start)
        except PeriodKeyError as exc:
            problems.append(Problem(parsed.where, "period", str(exc)))
    return problems


def changes(session: Session, document: Document) -> list[Change]:
    stored = current(session)
    found = []
    for parsed, entry in document.of(NAME, TargetEntry):
        wanted = {**parsed.wanted(), "period": _normalised(entry.grain, entry.period)}
        created = _shape(entry.spec())
        change = entry_change(NAME, parsed.key, wanted, stored.get(parsed.key), created=created)
        if change is not None:
            found.append(change)
    return found


def apply(session: Session, document: Document, planned: Sequence[Change], actor: Actor) -> None:
    """Create or update the changed plans (audited by :func:`models.targets.apply_target_plans`)."""
    changed = {c.key for c in planned if c.section == NAME}
    specs = [e.spec() for p, e in document.of(NAME, TargetEntry) if p.key in changed]
    if specs:
        apply_target_plans(session, actor, specs, fiscal_start_month=_FISCAL_START.get())
