"""Exporting the catalogue: a file that applies back unchanged, on the same or an empty
database, with pull passwords masked."""

from __future__ import annotations

from conftest import truncate_all
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.catalog_file import export_catalog
from models.sources import Source

from .support import CATALOG, add_user, apply_text, plan_text, refused


def _export(engine: Engine) -> str:
    with Session(engine) as session:
        return export_catalog(session)


def test_an_export_applied_to_the_same_database_changes_nothing(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    exported = _export(db)
    assert "  - key: spend\n" in exported
    assert "expires: '2030-06-30T23:59:59Z'" in exported
    assert plan_text(db, exported, "export.yaml") == []


def test_export_then_apply_on_an_empty_database_exports_the_same_file(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    # A second contract version, a moved unit and a deactivated source survive the trip.
    edited = (
        CATALOG.replace(
            "{name: amount, type: float, role: measure, min: 0}",
            "{name: amount, type: float, role: measure, min: 0, max: 9000}",
        )
        .replace(
            "name: West, level: region, parent: acme", "name: West, level: region, parent: east"
        )
        .replace("    retention_days: 30\n", "    retention_days: 30\n    active: false\n")
    )
    apply_text(db, edited)
    first = _export(db)
    assert "version: 2" in first
    assert "active: false" in first
    truncate_all(db)
    add_user(db)
    created = apply_text(db, first, "export.yaml")
    assert created
    # Everything but the units (made with the steward, whose scope names one) is created.
    assert all(c.kind.value == "create" for c in created if c.section != "org_units")
    assert _export(db) == first


def test_a_pull_password_is_masked_in_the_export_and_kept_on_apply(db: Engine) -> None:
    add_user(db)
    secret = CATALOG.replace(
        'target: "https://agency.example.com/spend"',
        'target: "https://robot:s3cret@agency.example.com/spend"',
    )
    apply_text(db, secret)
    exported = _export(db)
    assert "s3cret" not in exported
    assert "https://robot:***@agency.example.com/spend" in exported
    assert plan_text(db, exported) == []
    changed = exported.replace("interval_s: 3600", "interval_s: 600")
    assert [str(c) for c in apply_text(db, changed)] == [
        "update spend: pull.interval_s: 3600 → 600"
    ]
    with Session(db) as session:
        target = session.scalar(select(Source.pull_target).where(Source.key == "spend"))
    assert target == "https://robot:s3cret@agency.example.com/spend"
    truncate_all(db)
    add_user(db)
    problems = refused(db, exported)
    assert problems == [
        "catalog.yaml: sources[1] (spend): pull.target: the password is masked ('***'): "
        "write it out"
    ]
