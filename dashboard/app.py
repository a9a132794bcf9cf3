"""The application factory: one Flask server for the ingest API, health, metrics and the UI."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import dash
from flask import Flask

from dashboard import assets, auth, page_loader, security
from dashboard.api import routes as read_api
from dashboard.auth import ratelimit
from dashboard.auth.access_log import AccessSink
from dashboard.auth.policy import SERVICES_KEY
from dashboard.auth.sessions import SYSTEM_CLOCK, Clock
from dashboard.shell import navbar
from ingest import api, observability
from ingest.runtime import Services
from models.settings import Environment, Settings, get_settings

__all__ = ["SERVICES_KEY", "create_app"]

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_FOLDER = PACKAGE_DIR.parent / "assets"
DASH_KEY = "northstar.dash"


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    access_sink: AccessSink | None = None,
) -> Flask:
    """Build the web process's server; no connection is opened until the first request.

    Args:
        clock: seconds since the epoch for session timeouts (tests inject one).
        access_sink: where ``access_log`` entries go (default: PostgreSQL).
    """
    settings = settings or get_settings()
    server = Flask("northstar", static_folder=None)
    server.config.update(SECRET_KEY=_secret_key(settings))
    services = Services(settings)
    server.extensions[SERVICES_KEY] = services
    # Before Dash's own hooks: refused requests do no work, and every response is hardened.
    security.init_app(server, settings, lambda: dash_app.csp_hashes())
    auth.init_app(server, services, clock=clock, access_sink=access_sink)
    # After the sign-in guard: budgets are per signed-in user, anonymous requests never count.
    ratelimit.init_app(server, settings)
    api.init_app(server, services)
    read_api.init_app(server)
    observability.init_app(server, services)
    assets.init_app(server)
    dash_app = build_dash(server)
    server.extensions[DASH_KEY] = dash_app
    return server


def build_dash(server: Flask) -> dash.Dash:
    """The Dash multi-page app on ``server``: local assets only, the pages of every area."""
    app = dash.Dash(
        "dashboard",
        server=server,  # type: ignore[arg-type]  # Dash annotates it loosely
        use_pages=True,
        pages_folder="",  # pages live with their area: page_loader loads them
        assets_folder=str(ASSETS_FOLDER),
        serve_locally=True,
        external_stylesheets=[assets.BOOTSTRAP_CSS],
        external_scripts=[],
        suppress_callback_exceptions=True,
        title="Northstar",
        update_title=None,  # type: ignore[arg-type]  # None: keep the title while updating
    )
    page_loader.load_pages()
    app.layout = navbar.shell
    return app


def _secret_key(settings: Settings) -> str:
    """The configured key; outside production a random one per process if none is set."""
    if settings.secret_key:
        return settings.secret_key
    if settings.env is Environment.PRODUCTION:  # settings validation already refuses this
        raise RuntimeError("NORTHSTAR_SECRET_KEY is required in production")
    log.warning(
        "NORTHSTAR_SECRET_KEY is not set: using a random key, so sessions end when this "
        "process restarts and are not shared between processes"
    )
    return secrets.token_hex(32)
