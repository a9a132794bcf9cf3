"""docs/README.md indexes every page of docs/, and README.md links the index."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
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


def map_of_the_repository() -> str:
    """The "Map of the repository" section of docs/architecture.md."""
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    start = text.index("## Map of the repository")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_map_lists_every_top_level_folder() -> None:
    section = map_of_the_repository()
    ignored = {"build", "dist", "htmlcov", "node_modules"}
    folders = sorted(
        p.name
        for p in ROOT.iterdir()
        if p.is_dir()
        and (not p.name.startswith(".") or p.name == ".ci")
        and p.name not in ignored
        and not p.name.endswith(".egg-info")
        and p.name != "__pycache__"
    )
    missing = [name for name in folders if f"`{name}/`" not in section]
    assert not missing, f"docs/architecture.md, Map of the repository, lacks: {missing}"


def test_the_map_names_only_folders_that_exist() -> None:
    listed = re.findall(r"^\| (.+?) \|", map_of_the_repository(), flags=re.M)
    paths = [p for cell in listed for p in re.findall(r"`([\w./-]+/)`", cell)]
    assert len(paths) > 10
    gone = [p for p in paths if not (ROOT / p).is_dir()]
    assert not gone, f"docs/architecture.md, Map of the repository, names missing folders: {gone}"
