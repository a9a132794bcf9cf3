"""Configuration through the ORM: idempotent upserts of org units, sources, metrics and KPIs.

Every function takes a session and an :class:`~models.audit.Actor`, changes only what differs
from the spec, audits each change, and leaves committing to the caller. Roles, users and
passwords are in :mod:`models.accounts`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from models.audit import Actor, record_change
from models.base import Base
from models.contracts import Contract, FieldSpec
from models.enums import Classification, Direction, Granularity, OrgLevel, RefreshMode
from models.formulas import parse_formula
from models.kpi_versions import record_version
from models.kpis import Kpi, KpiMetric
from models.org import OrgUnit
from models.sources import Metric, Source, SourceContract
from models.users import Role, User


class CatalogError(ValueError):
    """A spec refers to something that does not exist or cannot be applied as asked."""


@dataclass(frozen=True, slots=True)
class OrgUnitSpec:
    key: str
    name: str
    level: OrgLevel
    parent_key: str | None = None


@dataclass(frozen=True, slots=True)
class SourceSpec:
    key: str
    name: str
    owner_unit_key: str
    refresh_mode: RefreshMode
    freshness_sla_s: int
    expected_volume_per_15m: int | None
    retention_days: int
    fields: tuple[FieldSpec, ...]
    description: str = ""
    sensitivity: Classification = Classification.INTERNAL
    partner_agreement_ref: str | None = None
    partner_agreement_expires_at: dt.datetime | None = None
    measure_units: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KpiSpec:
    key: str
    name: str
    formula: str
    owner_unit_key: str
    unit: str
    format: str
    direction: Direction
    target: float | None
    warn_threshold: float | None
    crit_threshold: float | None
    default_granularity: Granularity = Granularity.HOUR
    levels: tuple[OrgLevel, ...] = tuple(OrgLevel)
    description: str = ""
    target_warn_pct: float | None = None
    """Default warning level of the KPI's target plans, in % of the target."""
    target_crit_pct: float | None = None
    """Default critical level of the KPI's target plans, in % of the target."""


def metric_key(source_key: str, measure: str | None) -> str:
    """``orders`` for the event count of a source, ``orders.amount`` for one of its measures."""
    return source_key if measure is None else f"{source_key}.{measure}"


def _assign(obj: Base, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set the attributes that differ; return (before, after) of exactly those."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in values.items():
        current = getattr(obj, name)
        if current != value:
            before[name], after[name] = current, value
            setattr(obj, name, value)
    return before, after


def audit_update(
    session: Session,
    actor: Actor,
    target: str,
    target_id: str,
    obj: Base,
    values: Mapping[str, Any],
) -> None:
    """Set the attributes of ``obj`` that differ from ``values`` and audit them as one update."""
    before, after = _assign(obj, values)
    if after:
        record_change(
            session, actor, f"{target}.update", target, target_id, before=before, after=after
        )


Keyed = TypeVar("Keyed", Source, Kpi, Role)
"""The catalogue rows found by a unique ``key`` and upserted by :func:`upsert_by_key`."""


def upsert_by_key(
    session: Session,
    actor: Actor,
    model: type[Keyed],
    target: str,
    key: str,
    values: Mapping[str, Any],
) -> Keyed:
    """The ``model`` row with this ``key``, created or updated to ``values`` and audited."""
    row = session.scalar(select(model).where(model.key == key))
    if row is None:
        row = model(key=key, **values)
        session.add(row)
        session.flush()
        record_change(session, actor, f"{target}.create", target, key, after=values)
        return row
    audit_update(session, actor, target, key, row, values)
    return row


def unit_by_key(session: Session, key: str) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.key == key))
    if unit is None:
        raise CatalogError(f"unknown org unit {key!r}")
    return unit


def upsert_org_unit(session: Session, spec: OrgUnitSpec, actor: Actor) -> OrgUnit:
    """Create or update a unit; its ``path`` is its ancestors' ids and its own, e.g. ``1.2.5``."""
    parent = unit_by_key(session, spec.parent_key) if spec.parent_key else None
    unit = session.scalar(select(OrgUnit).where(OrgUnit.key == spec.key))
    if unit is None:
        # The path contains the unit's own id, so take the id from the sequence first.
        new_id = session.scalar(
            select(func.nextval(func.pg_get_serial_sequence("org_units", "id")))
        )
        assert new_id is not None
        path = f"{parent.path}.{new_id}" if parent else str(new_id)
        unit = OrgUnit(
            id=new_id,
            key=spec.key,
            name=spec.name,
            level=spec.level,
            parent_id=parent.id if parent else None,
            path=path,
        )
        session.add(unit)
        session.flush()
        after = {"key": spec.key, "name": spec.name, "level": spec.level, "path": path}
        record_change(session, actor, "org_unit.create", "org_unit", unit.id, after=after)
        return unit
    if unit.parent_id != (parent.id if parent else None):
        _move_subtree(session, unit, parent)
    values = {"name": spec.name, "level": spec.level, "parent_id": parent.id if parent else None}
    audit_update(session, actor, "org_unit", str(unit.id), unit, values)
    return unit


def _move_subtree(session: Session, unit: OrgUnit, parent: OrgUnit | None) -> None:
    """Rewrite the paths of ``unit`` and its descendants under their new parent."""
    old_prefix = unit.path
    new_prefix = f"{parent.path}.{unit.id}" if parent else str(unit.id)
    if parent is not None and (parent.path + ".").startswith(old_prefix + "."):
        raise CatalogError(f"cannot move {unit.key!r} under its own descendant {parent.key!r}")
    subtree = session.scalars(select(OrgUnit).where(OrgUnit.path.op("<@")(old_prefix))).all()
    for member in subtree:
        member.path = new_prefix + member.path[len(old_prefix) :]


def _source_values(spec: SourceSpec, owner: OrgUnit) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "owner_unit_id": owner.id,
        "refresh_mode": spec.refresh_mode,
        "freshness_sla_s": spec.freshness_sla_s,
        "expected_volume_per_15m": spec.expected_volume_per_15m,
        "retention_days": spec.retention_days,
        "sensitivity": spec.sensitivity,
        "partner_agreement_ref": spec.partner_agreement_ref,
        "partner_agreement_expires_at": spec.partner_agreement_expires_at,
    }


def upsert_source(
    session: Session, spec: SourceSpec, actor: Actor, *, steward: User | None = None
) -> Source:
    """Create or update a source, then its contract (a new version if changed) and metrics."""
    values = _source_values(spec, unit_by_key(session, spec.owner_unit_key))
    if steward is not None:
        values["steward_id"] = steward.id
    source = upsert_by_key(session, actor, Source, "source", spec.key, values)
    contract = ensure_contract(session, source, spec.fields, actor)
    sync_metrics(session, source, contract, spec.measure_units, actor)
    return source


def latest_contract(session: Session, source: Source) -> SourceContract | None:
    return session.scalar(
        select(SourceContract)
        .where(SourceContract.source_id == source.id)
        .order_by(SourceContract.version.desc())
        .limit(1)
    )


def ensure_contract(
    session: Session,
    source: Source,
    fields: Sequence[FieldSpec],
    actor: Actor,
    *,
    note: str = "",
    version: int | None = None,
) -> Contract:
    """Return the source's current contract, adding a new version if ``fields`` differ.

    Args:
        version: the number of the new version (default: the next one, or 1).
    """
    stored = [f.model_dump(mode="json") for f in fields]
    current = latest_contract(session, source)
    if current is not None and current.fields == stored:
        return Contract.from_row(current.version, current.fields)
    if version is None:
        version = 1 if current is None else current.version + 1
    contract = Contract(version=version, fields=tuple(fields))  # validates before storing
    session.add(
        SourceContract(
            source_id=source.id, version=version, fields=stored, note=note, created_by=actor.user_id
        )
    )
    record_change(
        session,
        actor,
        "source_contract.create",
        "source",
        source.key,
        before=None if current is None else {"version": current.version, "fields": current.fields},
        after={"version": version, "fields": stored},
    )
    return contract


def sync_metrics(
    session: Session,
    source: Source,
    contract: Contract,
    units: Mapping[str, str],
    actor: Actor,
) -> list[Metric]:
    """Make sure the event count and every measure of ``contract`` have a metric.

    Metrics of measures a newer contract dropped are kept: their history still exists.
    """
    existing = {
        m.measure: m for m in session.scalars(select(Metric).where(Metric.source_id == source.id))
    }
    wanted: list[tuple[str | None, str, str]] = [(None, f"{source.name} (count)", "events")]
    wanted += [(m, f"{source.name}: {m}", units.get(m, "")) for m in contract.measures]
    result = []
    for measure, name, unit in wanted:
        key = metric_key(source.key, measure)
        metric = existing.get(measure)
        if metric is None:
            metric = Metric(key=key, source_id=source.id, measure=measure, name=name, unit=unit)
            session.add(metric)
            session.flush()
            after = {"key": key, "measure": measure, "name": name, "unit": unit}
            record_change(session, actor, "metric.create", "metric", key, after=after)
        else:
            audit_update(session, actor, "metric", key, metric, {"name": name, "unit": unit})
        result.append(metric)
    return result


def metric_ids_by_key(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Metric.key, Metric.id)).all())


def upsert_kpi(
    session: Session, spec: KpiSpec, actor: Actor, *, steward: User | None = None
) -> Kpi:
    """Create or update a KPI whose formula must parse against the existing metrics.

    Raises:
        models.formulas.FormulaError: the formula is malformed or reads an unknown metric.
    """
    values: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "owner_unit_id": unit_by_key(session, spec.owner_unit_key).id,
        "formula": spec.formula,
        "unit": spec.unit,
        "format": spec.format,
        "direction": spec.direction,
        "target": spec.target,
        "warn_threshold": spec.warn_threshold,
        "crit_threshold": spec.crit_threshold,
        "target_warn_pct": spec.target_warn_pct,
        "target_crit_pct": spec.target_crit_pct,
        "default_granularity": spec.default_granularity,
        "levels": list(spec.levels),
    }
    if steward is not None:
        values["steward_id"] = steward.id
    return save_kpi(session, actor, spec.key, values)


def save_kpi(
    session: Session,
    actor: Actor,
    key: str,
    values: Mapping[str, Any],
    *,
    comment: str = "",
) -> Kpi:
    """Create or update the KPI ``key`` to ``values`` (audited), keep its lineage equal to its
    formula, and keep a new version when its definition changed: the one write of every path.

    Raises:
        models.formulas.FormulaError: the formula is malformed or reads an unknown metric.
    """
    metric_ids = metric_ids_by_key(session)
    formula = parse_formula(str(values["formula"]), known_metrics=frozenset(metric_ids))
    kpi = upsert_by_key(session, actor, Kpi, "kpi", key, values)
    sync_lineage(session, kpi, {metric_ids[k] for k in formula.metric_keys})
    record_version(session, kpi, actor, comment=comment)
    return kpi


def sync_lineage(session: Session, kpi: Kpi, metric_ids: set[int]) -> None:
    """Keep ``kpi_metrics`` equal to the metrics the formula reads (audited with the KPI)."""
    current = set(session.scalars(select(KpiMetric.metric_id).where(KpiMetric.kpi_id == kpi.id)))
    stale = current - metric_ids
    if stale:
        session.execute(
            delete(KpiMetric).where(KpiMetric.kpi_id == kpi.id, KpiMetric.metric_id.in_(stale))
        )
    session.add_all(KpiMetric(kpi_id=kpi.id, metric_id=m) for m in sorted(metric_ids - current))
    session.flush()


def source_ids_by_key(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Source.key, Source.id)).all())


def org_unit_ids_by_key(session: Session) -> dict[str, int]:
    return dict(session.execute(select(OrgUnit.key, OrgUnit.id)).all())


def count_metric_ids(session: Session) -> dict[str, int]:
    """The event-count metric of every source, by source key."""
    rows = session.execute(
        select(Source.key, Metric.id)
        .join(Metric, Metric.source_id == Source.id)
        .where(Metric.measure.is_(None))
        .order_by(Source.key)
    )
    return dict(rows.all())


def root_units(session: Session) -> list[OrgUnit]:
    """The tops of the hierarchy (units without a parent)."""
    return list(
        session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.path))
    )
