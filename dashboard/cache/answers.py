"""The answer cache: query answers in Redis under keys that make them never stale, never shared.

A key is the SHA-256 of the query's name, the shape of its answer type, its canonical
parameters (unit, period bounds, KPI formula, limits, the minute where "now" matters), the
principal's scope paths (sorted) and mask level, and the data versions the answer depends on
(``ingest.versions``). Ingest bumps a metric's version after each commit, so new data changes
the key and the next read goes to PostgreSQL: nothing is ever invalidated by hand. Values are
msgpack written and read by msgspec with the answer's type (never pickle).

Redis is an accelerator here, never a dependency: a Redis error is logged as a warning and the
answer is computed; that Redis is then left alone for :data:`BACKOFF_S` seconds, so a dead or
unreachable Redis costs at most one short timeout (``NORTHSTAR_CACHE_TIMEOUT_MS``) now and then.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, Protocol, TypeVar, cast

import msgspec
import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard.auth.policy import current_services
from ingest.sources_cache import CATALOG_VERSION_KEY
from ingest.versions import GLOBAL_KEY, closed_metric_key, metric_key
from models.permissions import Principal
from models.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")
T_co = TypeVar("T_co", covariant=True)

PREFIX = "northstar:cache:"
"""Every cached answer lives under ``northstar:cache:<query name>:<sha-256>``."""
EXTENSION_KEY = "northstar.cache"
FORMAT = 1
"""Part of every key: bump it when the meaning of an answer changes without its type."""
BACKOFF_S = 5.0
"""After a Redis error, how long this process computes answers without trying that Redis."""
DATA_VERSION = GLOBAL_KEY
"""Depend on this to be recomputed after any batch of any source (``wide`` answers)."""
CATALOG_VERSION = CATALOG_VERSION_KEY
"""Bumped when sources, contracts or API keys change (``ingest.sources_cache``)."""


def _encode_other(value: object) -> object:
    # SQLAlchemy hands back some names as str subclasses (quoted_name): store the text.
    if isinstance(value, str):
        return str(value)
    raise NotImplementedError(f"cannot cache a {type(value).__name__}")


_KEY_ENCODER = msgspec.msgpack.Encoder(enc_hook=_encode_other, order="deterministic")
_VALUE_ENCODER = msgspec.msgpack.Encoder(enc_hook=_encode_other)


class CacheUnavailable(Exception):
    """Redis failed or is being left alone after a failure; compute the answer instead."""


class _Endpoint:
    """One Redis used by the cache, with the back-off after a failure."""

    def __init__(self, client: redis.Redis, what: str) -> None:
        self.client = client
        self.what = what
        self._down_until = 0.0

    def run(self, action: str, fn: Callable[[redis.Redis], R]) -> R:
        if time.monotonic() < self._down_until:
            raise CacheUnavailable(self.what)
        try:
            return fn(self.client)
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + BACKOFF_S
            log.warning(
                "answer cache: %s on the %s Redis failed (%s); answers are computed without "
                "it for %.0f s",
                action,
                self.what,
                exc,
                BACKOFF_S,
            )
            raise CacheUnavailable(self.what) from exc


def _client(url: str, timeout_s: float) -> redis.Redis:
    # Short timeouts and a single immediate retry (a pooled connection that went stale):
    # a slow answer from the database is better than waiting on a sick Redis.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1),
    )


class CacheStore:
    """A process's handles on the data versions and on the cached answers (per app)."""

    def __init__(self, settings: Settings) -> None:
        timeout_s = settings.cache_timeout_ms / 1000
        self.ttl_s = settings.cache_ttl_s
        self.versions = _Endpoint(_client(settings.redis_url, timeout_s), "data versions")
        answers_url = settings.cache_redis_url or settings.redis_url
        self.answers = (
            self.versions
            if answers_url == settings.redis_url
            else _Endpoint(_client(answers_url, timeout_s), "answer cache")
        )

    @property
    def enabled(self) -> bool:
        """False when ``NORTHSTAR_CACHE_TTL_S`` is 0: answers are always computed."""
        return self.ttl_s > 0

    def read_versions(self, keys: Collection[str]) -> dict[str, int]:
        """The current value of each version key (0 for one never bumped), in one round trip.

        Raises:
            CacheUnavailable: Redis failed (logged) or is being left alone after a failure.
        """
        ordered = sorted(keys)
        if not ordered:
            return {}
        values = self.versions.run("reading data versions", lambda c: c.mget(ordered))
        return {key: int(value or 0) for key, value in zip(ordered, values, strict=True)}

    def metric_versions(self, metric_ids: Iterable[int]) -> dict[int, int]:
        """The version of each metric (see :meth:`read_versions`)."""
        ids = sorted(set(metric_ids))
        found = self.read_versions([metric_key(m) for m in ids])
        return {m: found[metric_key(m)] for m in ids}

    def get(self, key: str) -> bytes | None:
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored answers of ``keys`` (None where absent), in one round trip."""
        if not keys:
            return []
        values = self.answers.run("reading answers", lambda c: c.mget(list(keys)))
        return [value if isinstance(value, bytes) else None for value in values]

    def put(self, key: str, value: bytes) -> None:
        self.answers.run("storing an answer", lambda c: c.set(key, value, ex=self.ttl_s))

    def close(self) -> None:
        self.versions.client.close()
        self.answers.client.close()


def answer_store() -> CacheStore:
    """The serving app's cache store, made on first use (it connects only when used)."""
    store = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(store, CacheStore):
        # Two threads may both make one; the last one kept wins and both work.
        store = CacheStore(current_services().settings)
        current_app.extensions[EXTENSION_KEY] = store
    return store


@lru_cache(maxsize=64)
def _decoder(answer_type: Any) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(answer_type)


@lru_cache(maxsize=64)
def type_shape(answer_type: Any) -> str:
    """A digest of the answer type's fields: a changed type never reads an old entry."""
    schema = msgspec.json.encode(msgspec.json.schema(answer_type), order="deterministic")
    return hashlib.sha256(schema).hexdigest()[:16]


def answer_key(
    name: str,
    answer_type: Any,
    params: object,
    principal: Principal,
    versions: Mapping[str, int],
) -> str:
    """The Redis key of an answer: query, answer shape, parameters, scope, mask level, versions.

    ``params`` may hold anything msgspec encodes (dataclasses, tuples, datetimes, enums);
    they are encoded canonically (dict keys and sets sorted) before hashing.
    """
    material = (
        FORMAT,
        name,
        type_shape(answer_type),
        params,
        sorted(set(principal.scope_paths)),
        principal.mask_level,
        sorted(versions.items()),
    )
    digest = hashlib.sha256(_KEY_ENCODER.encode(material)).hexdigest()
    return f"{PREFIX}{name}:{digest}"


@dataclass(frozen=True, slots=True)
class Question(Generic[T]):
    """A cacheable question: what identifies its answer, and what the answer depends on.

    Args:
        name: the query's name (the key's readable part).
        answer_type: what the answer is; cached bytes are decoded to it.
        params: everything else the answer depends on (see :func:`answer_key`).
        metrics: ids of the metrics the answer is computed from (their data versions join
            the key).
        wide: the answer also depends on every source's newest data and on the source
            catalogue (the data version and the catalogue version join the key).
        closed: the answer reads only data before the current hour (``params`` must say
            which period): the metrics' closed versions join the key instead, which only
            late events move (``ingest.versions``).
    """

    name: str
    answer_type: Any
    params: object
    metrics: frozenset[int] = frozenset()
    wide: bool = False
    closed: bool = False

    def version_keys(self) -> set[str]:
        key_of = closed_metric_key if self.closed else metric_key
        keys = {key_of(m) for m in self.metrics}
        if self.wide:
            keys |= {DATA_VERSION, CATALOG_VERSION}
        return keys


_UNREAD = object()
"""A deferred answer whose stored bytes were not looked up yet."""


class Deferred(Generic[T]):
    """An answer asked of a :class:`CallCache`, looked up with the others asked before it.

    :meth:`get` settles it: the first ``get`` of a call reads the data versions and the stored
    answers of every deferred answer not looked up yet, each in one Redis round trip; then this
    one is decoded, or computed (and stored) when it was not cached.
    """

    __slots__ = ("_cache", "_compute", "_key", "_raw", "_value", "question")

    def __init__(self, cache: CallCache, question: Question[T], compute: Callable[[], T]) -> None:
        self.question = question
        self._cache = cache
        self._compute = compute
        self._key: str | None = None
        """The answer's Redis key; None when the cache cannot be used for it."""
        self._raw: object = _UNREAD
        self._value: object = _UNREAD

    def get(self) -> T:
        """The answer (computing it may raise, e.g. a refusal: refusals are never cached)."""
        if self._value is _UNREAD:
            self._value = self._cache._settle(self)
        return cast(T, self._value)


class Answer(Protocol[T_co]):
    """Something that gives an answer when taken: a :class:`Deferred` or one made from it."""

    def get(self) -> T_co: ...


class Derived(Generic[S, T]):
    """An answer made from another one when it is taken (e.g. a wire type decoded)."""

    __slots__ = ("_convert", "_source", "_value")

    def __init__(self, source: Answer[S], convert: Callable[[S], T]) -> None:
        self._source = source
        self._convert = convert
        self._value: object = _UNREAD

    def get(self) -> T:
        if self._value is _UNREAD:
            self._value = self._convert(self._source.get())
        return cast(T, self._value)


class CallCache:
    """The answer cache as one callback call uses it: one principal, versions read once.

    Every answer is keyed by this principal's scope and mask level, so the principal that
    runs the query (``compute``) must be :attr:`principal`; the cached reads of
    :mod:`dashboard.cache.reads` take it from here for that reason.
    """

    def __init__(self, store: CacheStore | None, principal: Principal) -> None:
        self.principal = principal
        self._store = store
        self._versions: dict[str, int] = {}
        self._unread: list[Deferred[Any]] = []
        self._once: dict[Hashable, object] = {}
        self.hits = 0
        self.misses = 0

    def once(self, key: Hashable, compute: Callable[[], R]) -> R:
        """``compute()`` the first time ``key`` is asked in this call, the same value after
        (e.g. a unit resolved against the live scope, shared by the answers computed)."""
        if key not in self._once:
            self._once[key] = compute()
        return cast(R, self._once[key])

    @property
    def cached(self) -> bool:
        """Whether every answer of this call came from the cache (``access_log`` detail)."""
        return self.hits > 0 and self.misses == 0

    @property
    def enabled(self) -> bool:
        return self._store is not None and self._store.enabled

    def versions(self, keys: Collection[str]) -> dict[str, int]:
        """The versions of ``keys``, read from Redis once per call (raises CacheUnavailable)."""
        if self._store is None:
            raise CacheUnavailable("no store")
        missing = set(keys) - self._versions.keys()
        if missing:
            self._versions.update(self._store.read_versions(missing))
        return {key: self._versions[key] for key in keys}

    def metric_versions(self, metric_ids: Iterable[int]) -> dict[int, int] | None:
        """The versions of these metrics as this call saw them; None when Redis failed."""
        ids = sorted(set(metric_ids))
        try:
            found = self.versions([metric_key(m) for m in ids])
        except CacheUnavailable:
            return None
        return {m: found[metric_key(m)] for m in ids}

    def defer(self, question: Question[T], compute: Callable[[], T]) -> Deferred[T]:
        """The answer to ``question``, to be looked up together with the others asked
        before the first :meth:`Deferred.get`; ``compute()`` makes it when not cached."""
        deferred = Deferred(self, question, compute)
        if self.enabled:
            self._unread.append(deferred)
        else:
            deferred._raw = None
        return deferred

    def ask(self, question: Question[T], compute: Callable[[], T]) -> T:
        """The cached answer to ``question``, or ``compute()`` (then cached)."""
        return self.defer(question, compute).get()

    def answer(
        self,
        name: str,
        answer_type: type[T],
        params: object,
        compute: Callable[[], T],
        *,
        metrics: Collection[int] = (),
        wide: bool = False,
    ) -> T:
        """:meth:`ask` of ``Question(name, answer_type, params, metrics, wide)``."""
        return self.ask(Question(name, answer_type, params, frozenset(metrics), wide), compute)

    def _look_up(self) -> None:
        """Read the stored bytes of every deferred answer not read yet: the versions they
        need in one MGET, then the answers in one MGET. On a Redis failure (logged by the
        store) they are computed without the cache."""
        pending, self._unread = self._unread, []
        store = self._store
        if not pending or store is None:
            return
        try:
            self.versions(set().union(*(d.question.version_keys() for d in pending)))
            for deferred in pending:
                question = deferred.question
                versions = {k: self._versions[k] for k in question.version_keys()}
                deferred._key = answer_key(
                    question.name, question.answer_type, question.params, self.principal, versions
                )
            found = store.get_many([cast(str, d._key) for d in pending])
        except CacheUnavailable:
            for deferred in pending:
                deferred._key, deferred._raw = None, None
            return
        for deferred, raw in zip(pending, found, strict=True):
            deferred._raw = raw

    def _settle(self, deferred: Deferred[T]) -> T:
        if deferred._raw is _UNREAD:
            self._look_up()
        key, raw, question = deferred._key, deferred._raw, deferred.question
        if isinstance(raw, bytes):
            try:
                value: T = _decoder(question.answer_type).decode(raw)
            except msgspec.DecodeError as exc:  # also ValidationError: a corrupt entry
                log.warning("answer cache: entry %s could not be read (%s); recomputing", key, exc)
            else:
                self.hits += 1
                return value
        self.misses += 1
        value = deferred._compute()
        if key is not None and self._store is not None:
            self._store_answer(self._store, question.name, key, value)
        return value

    @staticmethod
    def _store_answer(store: CacheStore, name: str, key: str, value: object) -> None:
        try:
            encoded = _VALUE_ENCODER.encode(value)
        except (TypeError, NotImplementedError):
            # A programming error, not the user's: say so loudly, but show the answer.
            log.exception("answer cache: %s answers cannot be encoded; not cached", name)
            return
        with contextlib.suppress(CacheUnavailable):  # logged by the store; the answer stands
            store.put(key, encoded)


def call_cache(principal: Principal) -> CallCache:
    """A :class:`CallCache` on the serving app's store, for one guarded callback call."""
    return CallCache(answer_store(), principal)
