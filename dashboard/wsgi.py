"""WSGI entry point for gunicorn: ``gunicorn dashboard.wsgi:app``."""

from __future__ import annotations

from dashboard.app import create_app
from ingest import logs
from models.settings import get_settings

logs.configure(get_settings(), "web")  # Northstar's messages; gunicorn's own logs are its own
app = create_app()
