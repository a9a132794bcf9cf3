"""Secrets that travel in URLs, kept out of every log of a request.

A one-time link (``/invite/<token>``) carries its secret in the path: whoever reads a log line
with it could set the account's password. Every place that writes a request's path, request
line or referrer to a log goes through :func:`redact`: gunicorn's access and error logs
(``gunicorn.conf.py``), Werkzeug's development-server log and Flask's "Exception on <path>"
(:class:`RedactingFilter` on those loggers), the ``access_log`` rows of refused requests and
the warning of a refused cross-site post.
"""

from __future__ import annotations

import logging
import re

from models.admin.links import INVITE_PATH

REDACTED = "[redacted]"
_TOKEN_IN_PATH = re.compile(re.escape(INVITE_PATH) + r"[^/?#\s\"']+")
"""The token segment of a one-time link, wherever it appears (path, request line, referrer,
percent-encoded or not: the segment ends at the next separator)."""
LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
"""Loggers that write request lines or paths: each gets :class:`RedactingFilter`."""


def redact(text: str) -> str:
    """``text`` with the token of every one-time link replaced by ``[redacted]``."""
    if INVITE_PATH not in text:
        return text
    return _TOKEN_IN_PATH.sub(INVITE_PATH + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Redacts one-time link tokens in a record's message and its string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            # In place: gunicorn passes its own dict subclass (it answers '-' for any atom
            # the format names but the request lacks).
            for key, value in list(record.args.items()):
                record.args[key] = _clean(value)
        elif isinstance(record.args, tuple):
            record.args = tuple(_clean(v) for v in record.args)
        return True


def _clean(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


def install(*more: str) -> None:
    """Add the filter to the request loggers and ``more`` (such as the Flask app's logger),
    once each, however often it is called."""
    for name in (*LOGGERS, *more):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
