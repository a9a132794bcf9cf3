"""The complete example of docs/catalog.md applies to a fresh database as the doc says."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models.catalog_file import apply_catalog, parse_catalog_text, plan_catalog
from models.kpis import Kpi
from models.sources import Source

from .support import ACTOR, add_user

DOC = Path(__file__).resolve().parents[3] / "docs" / "catalog.md"


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## A complete example") :]
    found = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_documented_example_applies_to_a_fresh_install(db: Engine) -> None:
    document = parse_catalog_text("catalog.md", _example())
    assert document.problems == []
    with Session(db) as session, session.begin():
        apply_catalog(session, document.only(["org_units"]), ACTOR)
    add_user(db, "sam@example.com", scope="acme", units=None)
    with Session(db) as session, session.begin():
        changes = apply_catalog(session, document, ACTOR)
    assert len([c for c in changes if c.section == "kpis"]) == 2
    with Session(db) as session:
        assert session.scalar(select(func.count()).select_from(Source)) == 2
        roi = session.scalars(select(Kpi).where(Kpi.key == "marketing_roi")).one()
        assert roi.target == 6.0
        assert plan_catalog(session, document) == []
