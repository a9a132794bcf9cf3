"""WSGI entry point for gunicorn: ``gunicorn dashboard.wsgi:app``."""

from __future__ import annotations

from dashboard.app import create_app

app = create_app()
