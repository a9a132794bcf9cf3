"""The pages of every area, loaded into the Dash app being built.

Pages live with their area (``dashboard/<area>/pages/``), not in one folder, so Dash's own
folder scan (one ``pages_folder``) does not fit. This does what that scan does, for each area:
it executes every page module again for each app built in the process — a page's
``dash.callback`` registrations are consumed by the app being built, so a second app (tests
build many) needs them again — and gives each page without a layout argument its module's
``layout``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import dash

PACKAGE_DIR = Path(__file__).resolve().parent
AREAS = ("shell", "executive", "steward", "alerts", "admin")
"""The areas with pages, in the order their modules are loaded."""


def page_files() -> list[tuple[str, Path]]:
    """(module name, file) of every page module, area by area, by file name."""
    found = []
    for area in AREAS:
        for path in sorted((PACKAGE_DIR / area / "pages").glob("*.py")):
            if not path.name.startswith("_"):
                found.append((f"dashboard.{area}.pages.{path.stem}", path))
    return found


def load_pages() -> None:
    """Execute every page module (each calls ``dash.register_page``) for the app being built."""
    for name, path in page_files():
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load page module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        entry = dash.page_registry.get(name)
        if entry is not None and not entry["supplied_layout"]:
            entry["layout"] = module.layout
