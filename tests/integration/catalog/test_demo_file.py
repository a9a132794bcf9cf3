"""The demo catalogue file: it applies cleanly, through the command line too, and gives the
catalogue `northstar demo seed` makes."""

from __future__ import annotations

from pathlib import Path

import redis
from click.testing import CliRunner
from conftest import truncate_all
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cli.main import cli
from ingest.demo import catalog
from ingest.demo.profiles import MARKETING_CHANNELS
from ingest.demo.seed import seed_demo
from ingest.sources_cache import read_catalog_version
from models.catalog_file import apply_catalog, export_catalog, parse_catalog_text, plan_catalog
from models.enums import OrgLevel
from models.settings import Settings

from .support import ACTOR, add_user

DEMO_FILE = str(catalog.CATALOG_FILE)


def _export(engine: Engine) -> str:
    with Session(engine) as session:
        return export_catalog(session)


def test_the_demo_file_applied_by_the_cli_is_the_seeded_catalogue(
    db: Engine, settings: Settings, tmp_path: Path, redis_client: redis.Redis
) -> None:
    seed_demo(db, settings.model_copy(update={"demo_mode": True, "data_dir": str(tmp_path)}))
    seeded = _export(db)
    # The seed adds target plans for the months around today (ingest/demo/targets.py); the
    # file holds the catalogue without them.
    assert "\ntargets:\n  - kpi: " in seeded
    without_plans = seeded[: seeded.index("\ntargets:\n")] + "\ntargets: []\n"
    with Session(db) as session:
        assert plan_catalog(session, parse_catalog_text("export.yaml", seeded)) == []
    truncate_all(db)
    with Session(db) as session, session.begin():
        apply_catalog(session, catalog.DOCUMENT.only(["org_units"]), ACTOR)
    add_user(db, catalog.STEWARD_EMAIL, scope=catalog.COMPANY_KEY, units=None)
    runner = CliRunner()
    checked = runner.invoke(cli, ["catalog", "apply", "--check", DEMO_FILE])
    assert checked.exit_code == 0, checked.output
    assert 'create orders: name "Orders"' in checked.output
    assert "nothing was changed (--check)" in checked.output
    assert "sources: []" in _export(db)
    version = read_catalog_version(redis_client)
    applied = runner.invoke(cli, ["catalog", "apply", DEMO_FILE])
    assert applied.exit_code == 0, applied.output
    assert "applied " in applied.output
    # The web processes are told to reload their sources.
    assert read_catalog_version(redis_client) != version
    assert _export(db) == without_plans
    again = runner.invoke(cli, ["catalog", "apply", DEMO_FILE])
    assert again.output.strip() == "no changes"


def test_the_generator_and_the_file_name_the_same_business_units_and_channels() -> None:
    leaves = {u.key for u in catalog.org_units() if u.level is OrgLevel.BUSINESS_UNIT}
    assert {p.key for p in catalog.business_units()} == leaves
    spend = catalog.MARKETING_SPEND.fields
    channel = next(f for f in spend if f.name == "channel")
    assert channel.allowed == tuple(MARKETING_CHANNELS)


def test_the_cli_prints_every_problem_and_exports_to_a_file(db: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "org_units:\n  - {key: a, name: A, level: planet}\n  - {key: b, name: B, level: region, "
        "parent: c}\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["catalog", "apply", str(bad)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "Error: the catalogue was refused (2 problems):"
    assert lines[1].startswith(f"  {bad}: org_units[0] (a): level: Input should be")
    assert lines[2] == f"  {bad}: org_units[1] (b): parent: unknown org unit 'c'"
    good = tmp_path / "good.yaml"
    good.write_text("org_units:\n  - {key: a, name: A, level: company}\n")
    assert runner.invoke(cli, ["catalog", "apply", str(good)]).exit_code == 0
    out = tmp_path / "out.yaml"
    exported = runner.invoke(cli, ["catalog", "export", "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "  - key: a\n    name: A\n    level: company\n    parent: null\n" in out.read_text()
