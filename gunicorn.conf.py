"""gunicorn settings of the web process: ``gunicorn -c gunicorn.conf.py dashboard.wsgi:app``.

Command-line options override these (the Procfile and the ingest bench pass none or a few).
Sizing on the 2-core machine is measured in docs/benchmarks.md ("Ingest benchmark").
"""

from __future__ import annotations

import gc
from typing import Any

# Not ``config``: gunicorn reads every module-level name here as a setting, and that one is.
from gunicorn import config as _gunicorn
from prometheus_client import multiprocess

from dashboard.redact import install as _install_redaction
from models.settings import get_settings

# gunicorn itself turns $PORT into its default bind (0.0.0.0:$PORT) and $WEB_CONCURRENCY into
# its default worker count; reading those defaults keeps models/settings.py the only module
# that reads the environment. Only the fallbacks differ: port 8050 instead of 127.0.0.1:8000,
# and at least 2 workers (``--workers 1`` on the command line goes below).
_GUNICORN_FALLBACK_BIND = ["127.0.0.1:8000"]
bind = (
    ["0.0.0.0:8050"]
    if _gunicorn.Bind.default == _GUNICORN_FALLBACK_BIND
    else _gunicorn.Bind.default
)

# Two processes (one per core) so that JSON parsing and validation, which hold the GIL, run in
# parallel; a few threads each so that a request waiting on Redis does not idle its process.
workers = max(2, _gunicorn.Workers.default)
threads = 4
worker_class = "gthread"
# Import the app (and its libraries) once in the arbiter: workers fork with it loaded.
preload_app = True
timeout = 30
# Producers keep their connection open between batches.
keepalive = 5
accesslog = "-"
# The access log never shows a one-time link's token (in the request line or a referrer):
# dashboard/redact.py filters gunicorn's access logger, installed before any worker starts.


def on_starting(server: Any) -> None:
    _install_redaction()


# gunicorn 25+ opens a control socket at one fixed path per user ($HOME/.gunicorn/gunicorn.ctl):
# two gunicorns on one host (web and a benchmark, or two web processes) would take it from each
# other. Northstar does not use ``gunicornc``.
control_socket_disable = True


def when_ready(server: Any) -> None:
    """Freeze what the arbiter loaded (the app, Dash, Plotly, SQLAlchemy) before forking.

    ~160 k objects survive start-up. Left to the cyclic GC, every full collection in every
    worker walks them all: ~40-95 ms on this machine, landing on whichever request happened to
    trigger it. Frozen, they are never scanned (and their pages stay shared after the fork).
    """
    gc.collect()
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live Prometheus gauges are dropped (prometheus-client multiprocess)."""
    directory = get_settings().prometheus_multiproc_dir
    if directory:
        multiprocess.mark_process_dead(worker.pid, directory)  # type: ignore[no-untyped-call]
