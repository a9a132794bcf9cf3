"""Redis Streams between the ingest API and the drain workers: keys, envelopes, publish, read.

One request becomes at most one stream entry per partition (an ``Envelope`` of validated
records, msgpack-encoded) plus, when some records were rejected, one entry on the quarantine
stream. All of a request's entries are written in one MULTI/EXEC, so a request is kept whole or
not at all. Workers read through one consumer group, acknowledge after commit and delete what
they acknowledged, so a stream's length is its backlog. No database here.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import redis

STREAM_PREFIX = "northstar:ingest:"
QUARANTINE_STREAM = "northstar:ingest:quarantine"
GROUP = "northstar-drain"
ENVELOPE_FIELD = b"e"
REJECTIONS_FIELD = b"q"


class StreamRecord(msgspec.Struct, array_like=True, frozen=True):
    """A record that passed the contract at the edge, as the worker will store it."""

    index: int
    """Position of the record in the producer's request (for quarantine and errors)."""
    event_id: str
    ts_us: int
    """Event time, microseconds since the Unix epoch, UTC."""
    org_unit: str
    """The org unit key as the producer sent it; the worker resolves it (or quarantines)."""
    measures: dict[str, float]
    dims: dict[str, Any]
    attrs: dict[str, Any]


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    """The records of one request that fall into one partition."""

    batch_id: str
    source_id: int
    source_key: str
    contract_version: int
    accepted_at: float
    """When the API accepted the request (Unix seconds): the start of event-to-commit latency."""
    records: list[StreamRecord]


class Rejection(msgspec.Struct, array_like=True, frozen=True):
    """A record the edge refused, on its way to the quarantine table."""

    batch_id: str
    source_id: int
    source_key: str
    contract_version: int | None
    index: int
    field: str | None
    rule: str
    reason: str
    payload: Any = None
    """The record as parsed JSON, when it parsed."""
    raw: str | None = None
    """The record's raw text, when it did not parse."""


class Backpressure(Exception):
    """The streams cannot take more now; ``retry_after`` seconds is a fair wait."""

    def __init__(self, reason: str, retry_after: int, *, unavailable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.unavailable = unavailable


_envelope_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(Envelope)
_rejections_decoder = msgspec.msgpack.Decoder(list[Rejection])


def stream_key(partition: int) -> str:
    return f"{STREAM_PREFIX}{partition}"


def partition_of(source_id: int, org_unit: str, partitions: int) -> int:
    """Stable across processes and hosts (``hash()`` is salted per process; CRC-32 is not)."""
    return zlib.crc32(f"{source_id}:{org_unit}".encode()) % partitions


def encode_envelope(envelope: Envelope) -> bytes:
    return _envelope_encoder.encode(envelope)


def decode_envelope(data: bytes) -> Envelope:
    return _envelope_decoder.decode(data)


def encode_rejections(rejections: Sequence[Rejection]) -> bytes:
    return _envelope_encoder.encode(list(rejections))


def decode_rejections(data: bytes) -> list[Rejection]:
    return _rejections_decoder.decode(data)


def split_by_partition(
    records: Sequence[StreamRecord], source_id: int, partitions: int
) -> dict[int, list[StreamRecord]]:
    by_partition: dict[int, list[StreamRecord]] = {}
    for record in records:
        by_partition.setdefault(partition_of(source_id, record.org_unit, partitions), []).append(
            record
        )
    return by_partition


def backlog(client: redis.Redis, partitions: Sequence[int]) -> dict[int, int]:
    """Entries waiting per partition: workers delete entries once committed, so this is
    everything not yet stored (undelivered and pending alike)."""
    with client.pipeline(transaction=False) as pipe:
        for partition in partitions:
            pipe.xlen(stream_key(partition))
        lengths = pipe.execute()
    return {p: int(n) for p, n in zip(partitions, lengths, strict=True)}


def publish(
    client: redis.Redis,
    envelopes: Mapping[int, Envelope],
    rejections: Sequence[Rejection],
    *,
    max_backlog: int,
) -> list[int]:
    """Append a request's envelopes (by partition) and rejections atomically.

    Raises:
        Backpressure: a partition's backlog is at ``max_backlog`` (nothing was written), or
            Redis refused the write (``unavailable``; nothing was written).

    Returns:
        The partitions that received an entry (their drain jobs should be triggered).
    """
    partitions = sorted(envelopes)
    try:
        full = [p for p, n in backlog(client, partitions).items() if n >= max_backlog]
        if full:
            raise Backpressure(f"ingest backlog is full on partition(s) {full}", retry_after=5)
        with client.pipeline(transaction=True) as pipe:
            for partition in partitions:
                pipe.xadd(
                    stream_key(partition), {ENVELOPE_FIELD: encode_envelope(envelopes[partition])}
                )
            if rejections:
                pipe.xadd(QUARANTINE_STREAM, {REJECTIONS_FIELD: encode_rejections(rejections)})
            pipe.execute()
    except redis.RedisError as exc:
        # OOM, read-only replica, connection loss: nothing of the request may be assumed kept.
        raise Backpressure(
            f"stream storage unavailable: {type(exc).__name__}", retry_after=10, unavailable=True
        ) from exc
    return partitions


# --- read side: the drain workers -----------------------------------------------------------


class Entry(msgspec.Struct, frozen=True):
    """One stream entry as read by a consumer; ``fields`` is empty for a deleted entry."""

    id: bytes
    fields: dict[bytes, bytes]


def _entries(raw: Sequence[Any]) -> list[Entry]:
    # Redis 6.2 returns deleted-but-pending entries as (id, None) from XAUTOCLAIM.
    return [Entry(bytes(entry_id), dict(fields or {})) for entry_id, fields in raw]


def ensure_group(client: redis.Redis, key: str) -> None:
    """Create the consumer group (and the stream) if missing, reading from the very start:
    entries the API published before any worker ran are delivered too."""
    try:
        client.xgroup_create(key, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def read_new(
    client: redis.Redis, key: str, consumer: str, *, count: int, block_ms: int | None
) -> list[Entry]:
    """Up to ``count`` never-delivered entries, waiting at most ``block_ms`` (None: no wait)."""
    # RESP2 answer: [[key, [(id, fields), ...]]]
    answer: Any = client.xreadgroup(GROUP, consumer, {key: ">"}, count=count, block=block_ms)
    if not answer:
        return []
    return _entries(answer[0][1])


def claim_stale(
    client: redis.Redis,
    key: str,
    consumer: str,
    *,
    min_idle_ms: int,
    count: int,
    start: bytes = b"0-0",
) -> tuple[bytes, list[Entry]]:
    """Take over entries pending longer than ``min_idle_ms`` (their consumer died or failed).

    Returns:
        The cursor to continue from (``b"0-0"`` when the whole list was scanned) and the
        claimed entries, whose delivery count Redis has just incremented.
    """
    answer = client.xautoclaim(key, GROUP, consumer, min_idle_ms, start_id=start, count=count)
    cursor, claimed = bytes(answer[0]), answer[1]
    return cursor, _entries(claimed)


def delivery_counts(client: redis.Redis, key: str, ids: Sequence[bytes]) -> dict[bytes, int]:
    """How many times each pending entry of ``ids`` has been delivered (absent: not pending)."""
    with client.pipeline(transaction=False) as pipe:
        for entry_id in ids:
            pipe.xpending_range(key, GROUP, min=entry_id, max=entry_id, count=1)
        answers = pipe.execute()
    return {
        bytes(found[0]["message_id"]): int(found[0]["times_delivered"])
        for found in answers
        if found
    }


def ack_and_delete(client: redis.Redis, key: str, ids: Sequence[bytes]) -> None:
    """Acknowledge committed entries and delete them, so that XLEN stays the backlog."""
    if not ids:
        return
    with client.pipeline(transaction=True) as pipe:
        pipe.xack(key, GROUP, *ids)
        pipe.xdel(key, *ids)
        pipe.execute()


def pending_counts(client: redis.Redis, keys: Sequence[str]) -> dict[str, int]:
    """Entries delivered and not yet acknowledged, per stream key (0 without a group)."""
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.xpending(key, GROUP)
        answers = pipe.execute(raise_on_error=False)
    return {
        key: 0 if isinstance(answer, Exception) else int(answer["pending"])
        for key, answer in zip(keys, answers, strict=True)
    }


def overdue(client: redis.Redis, key: str, limit: int, *, scan: int = 1_000) -> list[bytes]:
    """Pending entries of ``key`` delivered more than ``limit`` times (among the ``scan``
    oldest pending): the drain quarantines such an entry on its next delivery, so one still
    listed here is stuck (nothing drains the stream, or even its quarantine keeps failing)."""
    try:
        pending = client.xpending_range(key, GROUP, min="-", max="+", count=scan)
    except redis.ResponseError:  # no stream or no group yet: nothing is pending
        return []
    return [_id_bytes(p["message_id"]) for p in pending if int(p["times_delivered"]) > limit]


def _id_bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


# Give back one delivery of each listed entry still pending with this consumer (ARGV[2]);
# an entry another consumer has claimed since is left alone. XCLAIM … RETRYCOUNT sets the
# counter (and resets the idle time: the entry is reclaimed ``claim idle`` later, a pause).
_FORGIVE = """
local forgiven = 0
for i = 3, #ARGV do
    local found = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
    local entry = found[1]
    if entry and entry[2] == ARGV[2] then
        local count = math.max(0, tonumber(entry[4]) - 1)
        redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'RETRYCOUNT', count, 'JUSTID')
        forgiven = forgiven + 1
    end
end
return forgiven
"""


def forgive_deliveries(client: redis.Redis, key: str, consumer: str, ids: Sequence[bytes]) -> int:
    """Take back the delivery this consumer just made of ``ids`` (their write failed for a
    reason of the environment, not of theirs): each counter goes down by one, atomically, for
    the entries this consumer still holds. Returns how many were forgiven."""
    if not ids:
        return 0
    forgiven = client.eval(_FORGIVE, 1, key, GROUP, consumer, *ids)
    return int(forgiven)
