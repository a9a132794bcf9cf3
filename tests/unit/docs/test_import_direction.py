"""Imports point one way — ``cli → dashboard → ingest → models`` — and no dashboard area
imports another area's pages (docs/architecture.md, Map of the repository)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAYERS = ("models", "ingest", "dashboard", "cli")
"""Lowest first: a package may import the ones before it, never the ones after."""


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_no_layer_above_it(layer: str) -> None:
    above = LAYERS[LAYERS.index(layer) + 1 :]
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(layer)
        for name in sorted(imported(path))
        if name.split(".")[0] in above
    ]
    assert wrong == []


def test_no_area_imports_another_areas_pages() -> None:
    wrong = []
    for path in modules("dashboard"):
        parts = path.relative_to(ROOT).parts
        own_area = parts[1] if len(parts) > 2 else None
        for name in imported(path):
            bits = name.split(".")
            pages_of = (
                bits[1] if len(bits) > 2 and bits[0] == "dashboard" and bits[2] == "pages" else None
            )
            if pages_of is not None and pages_of != own_area:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from dashboard.executive.pages import kpi\n")
    assert "dashboard.executive.pages.kpi" in imported(module)
