"""The application factory: one Flask server for the ingest API, health, metrics (and the UI)."""

from __future__ import annotations

from flask import Flask

from ingest import api, observability
from ingest.runtime import Services
from models.settings import Settings, get_settings

SERVICES_KEY = "northstar"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web process's server; no connection is opened until the first request."""
    settings = settings or get_settings()
    server = Flask("northstar")
    server.config.update(
        SECRET_KEY=settings.secret_key,
    )
    services = Services(settings)
    server.extensions[SERVICES_KEY] = services
    api.init_app(server, services)
    observability.init_app(server, services)
    return server
