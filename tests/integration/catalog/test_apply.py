"""Applying a catalogue file: everything created and audited, idempotent, the absent kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models.catalog_file import ChangeKind, read_catalog
from models.kpis import Kpi, KpiMetric
from models.logs import AuditLog
from models.org import OrgUnit
from models.sources import Metric, Source, SourceContract
from models.users import User

from .support import CATALOG, KPIS, ORDERS, SPEND, UNITS, add_user, apply_text, plan_text


def _audit_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(AuditLog)) or 0


def test_apply_creates_the_whole_catalogue_audited_as_the_cli(db: Engine) -> None:
    add_user(db)
    changes = apply_text(db, CATALOG)
    # The units came first, with the steward (whose scope names one).
    assert {(c.section, c.key) for c in changes} >= { ("sources", "spend"), ("metrics", "spend"),
        ("metrics", "orders.amount"), ("kpis", "roi"),
    }  # fmt: skip
    assert all(c.kind is ChangeKind.CREATE for c in changes)
    with Session(db) as session:
        east = session.scalars(select(OrgUnit).where(OrgUnit.key == "east")).one()
        acme = session.scalars(select(OrgUnit).where(OrgUnit.key == "acme")).one()
        assert east.parent_id == acme.id
        assert east.path == f"{acme.id}.{east.id}"
        spend = session.scalars(select(Source).where(Source.key == "spend")).one()
        assert (spend.pull_kind, spend.pull_interval_s) == ("http", 3600)
        assert spend.partner_agreement_expires_at == dt.datetime(
            2030, 6, 30, 23, 59, 59, tzinfo=dt.UTC
        )
        assert spend.owner_unit_id == east.id
        assert spend.steward_id is None
        orders = session.scalars(select(Source).where(Source.key == "orders")).one()
        sam = session.scalars(select(User).where(User.email == "sam@example.com")).one()
        assert orders.steward_id == sam.id
        assert orders.retention_days == 30
        units = dict(session.execute(select(Metric.key, Metric.unit)).all())
        assert units == {
            "orders": "events",
            "orders.amount": "EUR",
            "spend": "events",
            "spend.cost": "EUR",
        }
        names = dict(session.execute(select(Metric.key, Metric.name)).all())
        assert names["spend.cost"] == "Media cost"
        assert names["orders.amount"] == "Orders: amount"
        roi = session.scalars(select(Kpi).where(Kpi.key == "roi")).one()
        assert roi.default_granularity == "day"
        assert list(roi.levels) == ["company", "region"]
        lineage = session.scalar(select(func.count()).where(KpiMetric.kpi_id == roi.id))
        assert lineage == 2
        actors = set(session.scalars(select(AuditLog.actor)))
        actions = set(session.scalars(select(AuditLog.action)))
    assert actors == {"system:cli"}
    assert {
        "org_unit.create",
        "source.create",
        "source_contract.create",
        "metric.create",
    } <= actions
    assert "kpi.create" in actions


def test_applying_the_same_file_twice_changes_nothing(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    audited = _audit_count(db)
    assert apply_text(db, CATALOG) == []
    assert plan_text(db, CATALOG) == []
    assert _audit_count(db) == audited


def test_check_lists_before_and_after_and_changes_nothing(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    audited = _audit_count(db)
    edited = CATALOG.replace("retention_days: 30", "retention_days: 60").replace(
        "name: West, level: region, parent: acme", "name: West coast, level: region, parent: east"
    )
    changes = plan_text(db, edited)
    shown = [str(c) for c in changes]
    assert 'update west: name: "West" → "West coast"; parent: "acme" → "east"' in shown
    assert "update orders: retention_days: 30 → 60" in shown
    assert _audit_count(db) == audited
    with Session(db) as session:
        assert session.scalar(select(Source.retention_days).where(Source.key == "orders")) == 30
    apply_text(db, edited)
    with Session(db) as session:
        west = session.scalars(select(OrgUnit).where(OrgUnit.key == "west")).one()
        east = session.scalars(select(OrgUnit).where(OrgUnit.key == "east")).one()
        assert west.path == f"{east.path}.{west.id}"
        row = session.scalars(
            select(AuditLog).where(AuditLog.action == "source.update").order_by(AuditLog.id.desc())
        ).first()
        assert row is not None
        assert row.before == {"retention_days": 30}
        assert row.after == {"retention_days": 60}


def test_deactivation_is_explicit_and_entries_left_out_are_kept(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    # Only the orders source, deactivated; no units, no spend, no KPIs: those stay as they are.
    changes = apply_text(db, UNITS + "sources:" + ORDERS + "    active: false\n")
    assert [(c.kind, c.key) for c in changes] == [(ChangeKind.DEACTIVATE, "orders")]
    assert str(changes[0]) == "deactivate orders: active: true → false"
    with Session(db) as session:
        assert session.scalar(select(Source.active).where(Source.key == "orders")) is False
        assert session.scalar(select(func.count()).select_from(Source)) == 2
        assert session.scalar(select(func.count()).select_from(Kpi)) == 2


def test_a_field_left_out_keeps_its_value_and_null_clears_it(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    without_steward = CATALOG.replace("    steward: sam@example.com\n", "")
    assert plan_text(db, without_steward) == []
    cleared = CATALOG.replace("    steward: sam@example.com\n", "    steward: null\n", 1)
    changes = apply_text(db, cleared)
    assert [str(c) for c in changes] == ['update orders: steward: "sam@example.com" → null']


def test_a_contract_change_is_a_new_version_and_new_measures_get_metrics(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    edited = CATALOG.replace(
        "        - {name: amount, type: float, role: measure, min: 0}\n",
        "        - {name: amount, type: float, role: measure, min: 0}\n"
        "        - {name: items, type: int, role: measure}\n",
    )
    shown = [str(c) for c in apply_text(db, edited)]
    assert "update orders: contract: version 1 → 2 (added items)" in shown
    assert 'create orders.items: name "Orders: items", unit ""' in shown
    with Session(db) as session:
        versions = session.scalars(select(SourceContract.version).order_by(SourceContract.version))
        assert list(versions) == [1, 1, 2]


def test_several_files_or_a_folder_are_merged(db: Engine, tmp_path: Path) -> None:
    add_user(db)
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "1-units.yaml").write_text(UNITS)
    (folder / "2-sources.yml").write_text("sources:" + ORDERS + SPEND)
    (folder / "notes.txt").write_text("not a catalogue")
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(KPIS)
    document = read_catalog([folder, kpis])
    assert document.problems == []
    assert {p.key for p in document.entries["sources"]} == {"orders", "spend"}
    assert [p.key for p in document.entries["kpis"]] == ["revenue", "roi"]
    assert document.entries["kpis"][0].where.file == str(kpis)


def test_yes_and_no_words_stay_strings(db: Engine) -> None:
    # PyYAML alone reads `no` and `on` as booleans (YAML 1.1); here they are keys.
    changes = apply_text(
        db,
        "org_units:\n  - {key: no, name: Norway, level: country}\n"
        "  - {key: on, name: On, level: region}\n",
    )
    assert [c.key for c in changes] == ["no", "on"]
