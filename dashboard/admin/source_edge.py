"""Telling the ingest edge that sources, contracts or keys changed (after an admin's commit)."""

from __future__ import annotations

import logging

import redis

from dashboard.auth.policy import current_services
from ingest.sources_cache import MAX_AGE_S, bump_catalog_version

log = logging.getLogger(__name__)


def announce_change() -> str:
    """Bump the catalogue version so every web process reloads on its next ingest request.

    Returns:
        "" when done; otherwise a sentence for the admin saying when the change applies
        (the edge reloads by itself within ``MAX_AGE_S``).
    """
    try:
        bump_catalog_version(current_services().redis)
    except redis.RedisError as exc:
        log.warning("could not bump the ingest catalogue version: %s", exc)
        return f" Redis is unreachable: the ingest API applies the change within {MAX_AGE_S:.0f} s."
    return ""
