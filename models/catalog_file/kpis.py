"""The ``kpis`` section: formulas over metrics, with unit, format, direction, owner, steward
and thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.catalog import save_kpi
from models.catalog_file import metrics, sources
from models.catalog_file.changes import Change, entry_change
from models.catalog_file.document import Document, Parsed
from models.catalog_file.lookups import unit_ids, user_emails
from models.catalog_file.problems import Problem
from models.catalog_file.refs import References
from models.enums import Direction, Granularity, OrgLevel
from models.formulas import FormulaError, parse_formula
from models.kpis import Kpi

NAME = "kpis"
KPI_KEY = r"^[a-z][a-z0-9_]{0,63}$"


class Thresholds(BaseModel):
    """Target and the warning and critical levels, in the KPI's unit, and the default levels of
    its target plans in % of the target (any may be left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float | None = None
    warn: float | None = None
    crit: float | None = None
    warn_pct: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Default warning level of the KPI's target plans, in % of the target (docs/targets.md)."""
    crit_pct: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Default critical level of the KPI's target plans, in % of the target."""


class KpiEntry(BaseModel):
    """One KPI; ``formula`` reads metrics such as ``sum(orders.amount) / count(orders)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KPI_KEY)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    formula: str = Field(min_length=1)
    unit: str = Field(default="", max_length=40)
    format: str = Field(default=",.2f", max_length=20)
    direction: Direction = Direction.HIGHER_IS_BETTER
    owner: str = Field(min_length=1)
    steward: str | None = None
    granularity: Granularity = Granularity.HOUR
    levels: tuple[OrgLevel, ...] = Field(default=tuple(OrgLevel), min_length=1)
    thresholds: Thresholds = Thresholds()

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        try:
            format(1234.5, value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a number format such as ',.2f': {exc}") from None
        return value

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: tuple[OrgLevel, ...]) -> tuple[OrgLevel, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a level is listed twice")
        return value


def current(session: Session) -> dict[str, dict[str, Any]]:
    """The stored KPIs in the file's shape, oldest first."""
    owners = {i: k for k, i in unit_ids(session).items()}
    emails = user_emails(session)
    return {
        kpi.key: {
            "key": kpi.key,
            "name": kpi.name,
            "description": kpi.description,
            "formula": kpi.formula,
            "unit": kpi.unit,
            "format": kpi.format,
            "direction": kpi.direction.value,
            "owner": owners[kpi.owner_unit_id],
            "steward": None if kpi.steward_id is None else emails.get(kpi.steward_id),
            "granularity": kpi.default_granularity.value,
            "levels": [level.value for level in kpi.levels],
            "thresholds": {
                "target": kpi.target,
                "warn": kpi.warn_threshold,
                "crit": kpi.crit_threshold,
                "warn_pct": kpi.target_warn_pct,
                "crit_pct": kpi.target_crit_pct,
            },
        }
        for kpi in session.scalars(select(Kpi).order_by(Kpi.id))
    }


def _wanted(parsed: Parsed, stored: dict[str, Any] | None) -> dict[str, Any]:
    wanted = parsed.wanted()
    steward, old = wanted.get("steward"), (stored or {}).get("steward")
    if steward and old and steward.lower() == old.lower():
        wanted["steward"] = old
    return wanted


def check(session: Session, document: Document) -> list[Problem]:
    known_metrics = metrics.keys_after(session, document)
    stored = current(session)
    entries = document.of(NAME, KpiEntry)
    refs = References(session, document, (e.steward for _, e in entries))
    problems = []
    for parsed, entry in entries:
        old = stored.get(parsed.key) or {}
        owner = refs.owner_problem(entry.owner)
        if owner is not None:
            problems.append(Problem(parsed.where, "owner", owner))
        steward = _wanted(parsed, old).get("steward", old.get("steward"))
        problem = refs.steward_problem(steward, entry.owner, old.get("steward"))
        if problem is not None:
            problems.append(Problem(parsed.where, "steward", problem))
        problem = _formula_problem(document, entry.formula, known_metrics)
        if problem is not None:
            problems.append(Problem(parsed.where, "formula", problem))
    return problems


def _formula_problem(document: Document, formula: str, known: set[str]) -> str | None:
    """Why the formula cannot be used, unless it only reads metrics of refused sources."""
    try:
        parse_formula(formula, known_metrics=known)
    except FormulaError as exc:
        try:
            read = parse_formula(formula).metric_keys
        except FormulaError:
            return str(exc)
        unknown = {key.partition(".")[0] for key in read - known}
        if all(document.is_refused(sources.NAME, key) for key in unknown):
            return None
        return str(exc)
    return None


def changes(session: Session, document: Document) -> list[Change]:
    stored = current(session)
    found = []
    for parsed, entry in document.of(NAME, KpiEntry):
        wanted = _wanted(parsed, stored.get(parsed.key))
        created = {**entry.model_dump(mode="json"), **wanted}
        change = entry_change(NAME, parsed.key, wanted, stored.get(parsed.key), created=created)
        if change is not None:
            found.append(change)
    return found


def _columns(merged: dict[str, Any], owner_id: int, steward_id: int | None) -> dict[str, Any]:
    thresholds = merged["thresholds"]
    return {
        "name": merged["name"],
        "description": merged["description"],
        "owner_unit_id": owner_id,
        "steward_id": steward_id,
        "formula": merged["formula"],
        "unit": merged["unit"],
        "format": merged["format"],
        "direction": Direction(merged["direction"]),
        "target": thresholds["target"],
        "warn_threshold": thresholds["warn"],
        "crit_threshold": thresholds["crit"],
        "target_warn_pct": thresholds.get("warn_pct"),
        "target_crit_pct": thresholds.get("crit_pct"),
        "default_granularity": Granularity(merged["granularity"]),
        "levels": [OrgLevel(level) for level in merged["levels"]],
    }


def apply(session: Session, document: Document, planned: Sequence[Change], actor: Actor) -> None:
    """Create or update the changed KPIs and keep their lineage equal to their formulas."""
    changed = {c.key for c in planned if c.section == NAME}
    stored = current(session)
    owners = unit_ids(session)
    entries = [(p, e) for p, e in document.of(NAME, KpiEntry) if p.key in changed]
    refs = References(session, document, (e.steward for _, e in entries))
    for parsed, entry in entries:
        old = stored.get(parsed.key)
        merged = {**(old or entry.model_dump(mode="json")), **_wanted(parsed, old)}
        steward = merged["steward"]
        steward_id = refs.steward_id(steward)
        if steward is not None and steward_id is None:  # the stored steward, now inactive
            steward_id = session.scalar(select(Kpi.steward_id).where(Kpi.key == parsed.key))
        values = _columns(merged, owners[merged["owner"]], steward_id)
        save_kpi(session, actor, parsed.key, values, comment="catalogue file")
