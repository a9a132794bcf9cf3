"""Sign-in, sessions and the access policy of the dashboard (docs/security.md).

``init_app`` wires them onto the server in order: the access-log sink, flask-login and the
sign-in routes, then the ``before_request`` guard. Page authors import from
:mod:`dashboard.auth.policy` only.
"""

from __future__ import annotations

from flask import Flask

from dashboard.auth import guard, invite, login
from dashboard.auth.access_log import AccessSink, DatabaseAccessSink
from dashboard.auth.policy import ACCESS_SINK_KEY, SERVICES_KEY
from dashboard.auth.sessions import SYSTEM_CLOCK, Clock
from ingest.runtime import Services

__all__ = ["init_app"]


def init_app(
    server: Flask,
    services: Services,
    *,
    clock: Clock = SYSTEM_CLOCK,
    access_sink: AccessSink | None = None,
) -> None:
    """Set up sessions, sign-in and the guard on ``server``.

    Args:
        clock: seconds since the epoch; tests inject one to move time.
        access_sink: where ``access_log`` entries go (default: inserted into PostgreSQL).
    """
    server.extensions[SERVICES_KEY] = services
    server.extensions[ACCESS_SINK_KEY] = access_sink or DatabaseAccessSink(services.engine)
    login.init_app(server, clock)
    invite.init_app(server)
    guard.init_app(server)
