"""docs/README.md indexes every page of docs/, and README.md links the index."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+\.md)\)")


def test_every_doc_is_listed_in_the_index() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = set(LINK.findall(index))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")} - {"README.md"}
    missing = sorted(pages - linked)
    dangling = sorted(link for link in linked if not (DOCS / link).is_file())
    assert not missing, f"docs/README.md does not list: {', '.join(missing)}"
    assert not dangling, f"docs/README.md links pages that do not exist: {', '.join(dangling)}"


def test_the_readme_links_the_index() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/README.md" in readme, "README.md does not link the index docs/README.md"
