"""The dashboard's answer cache (docs/dashboard.md, Caching): see :mod:`dashboard.cache.answers`
for the keys, :mod:`dashboard.cache.reads` and :mod:`dashboard.cache.catalog` for the cached
reads the pages use, and :mod:`dashboard.cache.lazy` for the connection opened only on a miss."""

from __future__ import annotations

from dashboard.cache.answers import (
    PREFIX,
    CacheStore,
    CacheUnavailable,
    CallCache,
    answer_key,
    answer_store,
    call_cache,
)

__all__ = [
    "PREFIX",
    "CacheStore",
    "CacheUnavailable",
    "CallCache",
    "answer_key",
    "answer_store",
    "call_cache",
]
