"""Front-end files served by Northstar itself: Bootstrap 5 from an installed package.

Why and how: docs/security.md, Front-end files.

The CSS comes from the ``Bootstrap-Flask`` wheel (its ``flask_bootstrap/static/bootstrap5``
folder, Bootstrap 5.3), served under ``/vendor/bootstrap/``; no file is copied into the repo
and no CDN is named. XStatic-Bootstrap 5 would be the obvious choice, but it ships only as an
sdist whose build needs ``pkg_resources``, which current setuptools no longer has.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, Flask

VENDOR_URL = "/vendor/bootstrap"
BOOTSTRAP_CSS = f"{VENDOR_URL}/css/bootstrap.min.css"
_PACKAGE = "flask_bootstrap"


def bootstrap_folder() -> Path:
    """The installed Bootstrap 5 static folder (found without importing the package)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Bootstrap-Flask is not installed (pip install -e .)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "bootstrap5"
    if not (folder / "css" / "bootstrap.min.css").is_file():
        raise RuntimeError(f"no Bootstrap 5 CSS under {folder}")
    return folder


def init_app(server: Flask) -> None:
    """Serve the Bootstrap folder at ``/vendor/bootstrap/``."""
    vendor = Blueprint(
        "vendor_bootstrap",
        __name__,
        static_folder=str(bootstrap_folder()),
        static_url_path=VENDOR_URL,
    )
    server.register_blueprint(vendor)
