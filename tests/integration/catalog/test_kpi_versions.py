"""KPI definition versions: every path that changes a KPI's formula keeps the old definition."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.catalog import KpiSpec, upsert_kpi
from models.enums import Direction
from models.kpis import Kpi, KpiVersion

from .support import CATALOG, add_user, apply_text

ADMIN = Actor("ada@example.com")


def _versions(engine: Engine, key: str) -> list[tuple[int, str, str, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(KpiVersion.version, KpiVersion.formula, KpiVersion.actor, KpiVersion.comment)
            .join(Kpi, Kpi.id == KpiVersion.kpi_id)
            .where(Kpi.key == key)
            .order_by(KpiVersion.version)
        )
        return [tuple(row) for row in rows]


def _spec(formula: str, name: str = "Revenue") -> KpiSpec:
    return KpiSpec(
        key="revenue",
        name=name,
        formula=formula,
        owner_unit_key="acme",
        unit="EUR",
        format=",.0f",
        direction=Direction.HIGHER_IS_BETTER,
        target=None,
        warn_threshold=None,
        crit_threshold=None,
    )


def test_catalog_apply_writes_version_1_then_a_version_per_formula_change(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    assert [v[:2] for v in _versions(db, "revenue")] == [(1, "sum(orders.amount)")]
    assert [v[:2] for v in _versions(db, "roi")] == [(1, "sum(orders.amount) / sum(spend.cost)")]

    apply_text(db, CATALOG)  # the same file: nothing new
    assert len(_versions(db, "revenue")) == 1

    edited = CATALOG.replace("formula: sum(orders.amount)\n", "formula: avg(orders.amount)\n")
    apply_text(db, edited)
    versions = _versions(db, "revenue")
    assert [v[:2] for v in versions] == [(1, "sum(orders.amount)"), (2, "avg(orders.amount)")]
    assert versions[1][2:] == ("system:cli", "catalogue file")
    assert len(_versions(db, "roi")) == 1


def test_upsert_kpi_versions_a_changed_definition_but_not_a_renaming(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    with Session(db) as session, session.begin():
        upsert_kpi(session, _spec("sum(orders.amount)", name="Turnover"), ADMIN)
    assert len(_versions(db, "revenue")) == 1  # the name is not the definition

    with Session(db) as session, session.begin():
        upsert_kpi(session, _spec("sum(orders.amount) - sum(spend.cost)"), ADMIN)
    versions = _versions(db, "revenue")
    assert [v[:3] for v in versions] == [
        (1, "sum(orders.amount)", "system:cli"),
        (2, "sum(orders.amount) - sum(spend.cost)", "ada@example.com"),
    ]
    with Session(db) as session:
        kpi = session.scalars(select(Kpi).where(Kpi.key == "revenue")).one()
        assert kpi.formula == "sum(orders.amount) - sum(spend.cost)"
