"""The demo seed, history and summary against a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from cli.main import cli
from ingest.alerts.evaluate import evaluate
from ingest.demo import catalog
from ingest.demo.history import write_history
from ingest.demo.seed import credentials_path, read_credentials, seed_demo
from ingest.demo.summary import demo_summary
from models.alerts.tables import AlertRule, AlertStateRow, Review
from models.audit import Actor
from models.catalog import OrgUnitSpec, upsert_kpi, upsert_org_unit, upsert_source
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import OrgLevel
from models.facts import events
from models.formulas import FormulaError, parse_formula
from models.kpis import Kpi, KpiMetric
from models.logs import AuditLog
from models.org import OrgUnit
from models.settings import Settings, get_settings
from models.sources import Metric, Source, SourceContract
from models.users import Role, RolePermission, User, UserRole, UserScope

NOW = dt.datetime(2026, 11, 20, 12, 30, tzinfo=dt.UTC)
COUNTED = (
    OrgUnit, Source, SourceContract, Metric, Kpi, KpiMetric, Role, RolePermission, User,
    UserRole, UserScope, AuditLog, AlertRule,
)  # fmt: skip


@pytest.fixture
def demo_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"demo_mode": True, "data_dir": str(tmp_path)})


@pytest.fixture
def plain_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"demo_mode": False, "data_dir": str(tmp_path)})


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in COUNTED
        }


def password_hashes(engine: Engine) -> dict[str, str | None]:
    with Session(engine) as session:
        return dict(session.execute(select(User.email, User.password_hash)).all())


def test_seeding_twice_changes_nothing(db: Engine, demo_settings: Settings) -> None:
    first = seed_demo(db, demo_settings)
    after_first, hashes, file_text = counts(db), password_hashes(db), _read(demo_settings)
    second = seed_demo(db, demo_settings)
    assert len(first.new_accounts) == 4
    assert second.new_accounts == ()
    assert counts(db) == after_first
    assert password_hashes(db) == hashes
    assert _read(demo_settings) == file_text


def _read(settings: Settings) -> str:
    return credentials_path(settings).read_text(encoding="utf-8")


def test_the_organisation_is_a_consistent_hierarchy(db: Engine, plain_settings: Settings) -> None:
    seed_demo(db, plain_settings)
    with Session(db) as session:
        units = {u.id: u for u in session.scalars(select(OrgUnit))}
    levels = [u.level for u in units.values()]
    assert levels.count(OrgLevel.COMPANY) == 1
    assert levels.count(OrgLevel.REGION) >= 3
    assert levels.count(OrgLevel.COUNTRY) >= 8
    assert levels.count(OrgLevel.BUSINESS_UNIT) >= 20
    for unit in units.values():
        parent = units.get(unit.parent_id) if unit.parent_id else None
        assert unit.path == (f"{parent.path}.{unit.id}" if parent else str(unit.id))


def test_without_demo_mode_the_catalogue_exists_but_no_accounts(
    db: Engine, plain_settings: Settings
) -> None:
    report = seed_demo(db, plain_settings)
    found = counts(db)
    assert found["users"] == 0
    assert report.new_accounts == ()
    assert not credentials_path(plain_settings).exists()
    assert found["sources"] >= 4
    assert found["kpis"] >= 6
    assert found["roles"] == 3


def test_demo_accounts_have_their_roles_scopes_and_working_passwords(
    db: Engine, demo_settings: Settings
) -> None:
    seed_demo(db, demo_settings)
    path = credentials_path(demo_settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    passwords = read_credentials(path)
    with Session(db) as session:
        for spec in catalog.DEMO_USERS:
            user = session.scalars(select(User).where(User.email == spec.email)).one()
            roles = session.scalars(
                select(Role.key)
                .join(UserRole, UserRole.role_id == Role.id)
                .where(UserRole.user_id == user.id)
            ).all()
            scopes = session.scalars(
                select(OrgUnit.key)
                .join(UserScope, UserScope.org_unit_id == OrgUnit.id)
                .where(UserScope.user_id == user.id)
            ).all()
            assert (tuple(roles), tuple(scopes)) == (spec.roles, spec.scopes)
            assert user.is_demo
            assert user.password_hash is not None
            assert user.password_hash.startswith("scrypt:")
            assert check_password_hash(user.password_hash, passwords[spec.email])
            assert not check_password_hash(user.password_hash, passwords[spec.email] + "x")
        regional = session.scalars(
            select(OrgUnit.level)
            .join(UserScope, UserScope.org_unit_id == OrgUnit.id)
            .join(User, User.id == UserScope.user_id)
            .where(User.email == "emea.executive@example.com")
        ).one()
        assert regional is OrgLevel.REGION


def test_every_kpi_parses_against_the_seeded_metrics_and_its_lineage_matches(
    db: Engine, plain_settings: Settings
) -> None:
    seed_demo(db, plain_settings)
    with Session(db) as session:
        metrics = dict(session.execute(select(Metric.id, Metric.key)).all())
        lineage: dict[int, set[str]] = {}
        for kpi_id, metric_id in session.execute(select(KpiMetric.kpi_id, KpiMetric.metric_id)):
            lineage.setdefault(kpi_id, set()).add(metrics[metric_id])
        kpis = session.scalars(select(Kpi)).all()
        spend = session.scalars(select(Source).where(Source.key == "marketing_spend")).one()
    assert {k.key for k in kpis} >= {
        "revenue", "orders", "average_order_value", "conversion_rate",
        "support_resolution_time", "marketing_roi",
    }  # fmt: skip
    for kpi in kpis:
        formula = parse_formula(kpi.formula, known_metrics=set(metrics.values()))
        assert lineage[kpi.id] == set(formula.metric_keys), kpi.key
    assert spend.partner_agreement_ref
    assert spend.partner_agreement_expires_at is not None
    assert spend.partner_agreement_expires_at > dt.datetime.now(dt.UTC)


def test_history_reaches_every_source_and_unit_and_is_written_once(
    db: Engine, plain_settings: Settings
) -> None:
    seed_demo(db, plain_settings)
    first = write_history(db, days=2, scale=0.3, now=NOW)
    second = write_history(db, days=2, scale=0.3, now=NOW)
    written = {s.source_key: s.written for s in first.sources}
    assert set(written) == {s.key for s in catalog.SOURCES}
    assert all(n > 0 for n in written.values()), written
    assert second.written == 0
    with Session(db) as session:
        stored = session.scalar(select(func.count()).select_from(events))
        units_with_events = set(
            session.scalars(
                select(OrgUnit.key).where(OrgUnit.id.in_(select(events.c.org_unit_id).distinct()))
            )
        )
    assert stored == first.written
    assert units_with_events == {u.key for u in catalog.business_units()}


def test_history_needs_the_catalogue(db: Engine) -> None:
    with pytest.raises(ValueError, match="northstar demo seed"):
        write_history(db, days=1, scale=0.1, now=NOW)


def test_summary_reports_what_was_loaded_and_the_last_day(
    db: Engine, plain_settings: Settings
) -> None:
    seed_demo(db, plain_settings)
    history = write_history(db, days=2, scale=0.3, now=NOW)
    summary = demo_summary(db, plain_settings, now=NOW)
    assert summary.events == {s.source_key: s.written for s in history.sources}
    values = {line.definition.key: line.value for line in summary.kpis}
    assert all(v.value is not None for v in values.values()), values
    day_start = dt.datetime(2026, 11, 19, tzinfo=dt.UTC)
    assert values["revenue"].period.start == day_start
    with Session(db) as session:
        raw_revenue = session.scalar(
            select(func.sum(events.c.measures["amount"].as_float()))
            .join(Source, Source.id == events.c.source_id)
            .where(Source.key == "orders", events.c.ts >= day_start)
            .where(events.c.ts < day_start + dt.timedelta(days=1))
        )
    assert values["revenue"].value == pytest.approx(raw_revenue)


def test_the_command_line_seeds_writes_history_and_summarises(
    db: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NORTHSTAR_DEMO", raising=False)
    monkeypatch.setenv("NORTHSTAR_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()
    seeded = runner.invoke(cli, ["demo", "seed"])
    assert seeded.exit_code == 0, seeded.output
    assert f"{len(catalog.org_units())} org units" in seeded.output
    assert "NORTHSTAR_DEMO is not set" in seeded.output
    history = runner.invoke(cli, ["demo", "history", "--days", "1", "--scale", "0.05"])
    assert history.exit_code == 0, history.output
    assert all(source.key in history.output for source in catalog.SOURCES)
    summary = runner.invoke(cli, ["demo", "summary"])
    assert summary.exit_code == 0, summary.output
    assert "Revenue" in summary.output
    assert "web_sessions" in summary.output
    get_settings.cache_clear()


def test_changing_a_kpi_or_a_contract_is_audited_and_versioned(
    db: Engine, plain_settings: Settings
) -> None:
    seed_demo(db, plain_settings)
    actor = Actor("tests")
    revenue = next(k for k in catalog.KPIS if k.key == "revenue")
    orders = next(s for s in catalog.SOURCES if s.key == "orders")
    coupon = FieldSpec(name="coupon", type=FieldType.STRING, role=FieldRole.DIMENSION)
    with Session(db) as session, session.begin():
        upsert_kpi(session, replace(revenue, target=50_000.0, formula="sum(orders.items)"), actor)
        upsert_source(session, replace(orders, fields=(*orders.fields, coupon)), actor)
    with Session(db) as session:
        changes = session.scalars(select(AuditLog).where(AuditLog.actor == "tests")).all()
        versions = session.scalars(
            select(SourceContract.version)
            .join(Source, Source.id == SourceContract.source_id)
            .where(Source.key == "orders")
        ).all()
        lineage = session.scalars(
            select(Metric.key)
            .join(KpiMetric, KpiMetric.metric_id == Metric.id)
            .join(Kpi, Kpi.id == KpiMetric.kpi_id)
            .where(Kpi.key == "revenue")
        ).all()
    kpi_change = next(c for c in changes if c.action == "kpi.update")
    assert kpi_change.before == {"target": revenue.target, "formula": revenue.formula}
    assert kpi_change.after == {"target": 50_000.0, "formula": "sum(orders.items)"}
    assert any(c.action == "source_contract.create" for c in changes)
    assert sorted(versions) == [1, 2]
    assert lineage == ["orders.items"]


def test_a_kpi_over_an_unknown_metric_is_refused(db: Engine, plain_settings: Settings) -> None:
    seed_demo(db, plain_settings)
    revenue = next(k for k in catalog.KPIS if k.key == "revenue")
    with Session(db) as session, session.begin(), pytest.raises(FormulaError, match="refunds"):
        upsert_kpi(session, replace(revenue, formula="sum(refunds.amount)"), Actor("tests"))


def test_moving_a_unit_moves_its_subtree(db: Engine, plain_settings: Settings) -> None:
    seed_demo(db, plain_settings)
    with Session(db) as session, session.begin():
        upsert_org_unit(
            session, OrgUnitSpec("sg", "Singapore", OrgLevel.COUNTRY, "emea"), Actor("t")
        )
    with Session(db) as session:
        paths = dict(session.execute(select(OrgUnit.key, OrgUnit.path)).all())
        change = session.scalars(select(AuditLog).where(AuditLog.actor == "t")).one()
    assert paths["sg"] == f"{paths['emea']}.{paths['sg'].rsplit('.', 1)[1]}"
    assert paths["sg-online"] == f"{paths['sg']}.{paths['sg-online'].rsplit('.', 1)[1]}"
    assert change.action == "org_unit.update"
    assert change.after is not None
    assert set(change.after) == {"parent_id"}


def test_the_demo_alert_fires_when_orders_stop_and_opens_a_review(
    db: Engine, demo_settings: Settings, plain_settings: Settings
) -> None:
    """The simulator's outage fault silences orders: the demo rule "Orders halved (group)"
    goes pending, fires after 5 minutes and opens a review owned by the demo admin."""
    seed_demo(db, plain_settings)
    with Session(db) as session:
        assert session.scalar(select(func.count()).select_from(AlertRule)) == 0  # demo mode only
    seed_demo(db, demo_settings)
    write_history(db, days=1, scale=1.0, now=NOW)  # orders until 12:00, then nothing
    states = []
    for minutes in (5, 10, 16):  # windows of 15 min against the 15 min before
        evaluate(db, demo_settings, NOW.replace(minute=0) + dt.timedelta(minutes=minutes))
        with Session(db) as session:
            states.append(session.scalars(select(AlertStateRow.state)).one().value)
    assert states == ["ok", "pending", "firing"]
    with Session(db) as session:
        rule = session.scalars(select(AlertRule)).one()
        review = session.scalars(select(Review)).one()
        admin = session.scalars(select(User).where(User.email == catalog.DEMO_ALERT_OWNER)).one()
    assert rule.owner_user_id == admin.id
    assert review.owner_user_id == admin.id
