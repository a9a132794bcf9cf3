"""Schema drift: counting at the edge (this half) and evaluating closed windows (the job).

Key layout (Redis), one hash per source, contract version and window of receipt time:

    northstar:drift:{source_id}:{version}:{window_start}     HASH
        records            records that were JSON objects (checked against the contract)
        unknown:<field>    records carrying <field>, which the contract does not declare
        mismatch:<field>   records rejected because <field> had the wrong type
    northstar:drift:windows:{window_start}                   SET of "{source_id}:{version}"
        the hashes that exist for that window, so the evaluator needs no SCAN

``window_start`` is Unix seconds, a multiple of ``settings.drift_window_s``; both keys expire
``TTL_WINDOWS`` windows after their window starts. Only requests the streams accepted are
counted, so a producer retrying after a 429 or 503 is not counted twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import redis
from sqlalchemy import Engine

from models.enums import DriftKind
from models.quarantine_store import DriftRow, insert_drift

DRIFT_PREFIX = "northstar:drift:"
RECORDS = "records"
UNKNOWN = "unknown:"
MISMATCH = "mismatch:"
TTL_WINDOWS = 4
MAX_FIELDS_PER_REQUEST = 100
"""Distinct unknown field names counted per request: a producer sending random keys must not
grow a window's hash without bound."""
MAX_FIELD_NAME = 200


def window_start(at: float, window_s: int) -> int:
    """Start (Unix seconds) of the window containing ``at``."""
    return int(at // window_s) * window_s


def counts_key(source_id: int, version: int, start: int) -> str:
    return f"{DRIFT_PREFIX}{source_id}:{version}:{start}"


def windows_key(start: int) -> str:
    return f"{DRIFT_PREFIX}windows:{start}"


@dataclass
class DriftTally:
    """What one request contributes to its window's counters."""

    records: int = 0
    unknown: Counter[str] = field(default_factory=Counter)
    mismatch: Counter[str] = field(default_factory=Counter)

    def add(self, unknown: Iterable[str], mismatched: str | None = None) -> None:
        """Count one object record, its unknown fields and its mistyped field (if any)."""
        self.records += 1
        for name in unknown:
            name = name[:MAX_FIELD_NAME]
            if name in self.unknown or len(self.unknown) < MAX_FIELDS_PER_REQUEST:
                self.unknown[name] += 1
        if mismatched is not None:
            self.mismatch[mismatched] += 1


def count_drift(
    client: redis.Redis,
    source_id: int,
    version: int,
    tally: DriftTally,
    *,
    window_s: int,
    now: float | None = None,
) -> None:
    """Add ``tally`` to the current window's counters (one round trip)."""
    if tally.records == 0:
        return
    start = window_start(time.time() if now is None else now, window_s)
    key = counts_key(source_id, version, start)
    ttl = window_s * TTL_WINDOWS
    with client.pipeline(transaction=False) as pipe:
        pipe.hincrby(key, RECORDS, tally.records)
        for name, n in tally.unknown.items():
            pipe.hincrby(key, UNKNOWN + name, n)
        for name, n in tally.mismatch.items():
            pipe.hincrby(key, MISMATCH + name, n)
        pipe.expire(key, ttl)
        pipe.sadd(windows_key(start), f"{source_id}:{version}")
        pipe.expire(windows_key(start), ttl)
        pipe.execute()


@dataclass(frozen=True)
class WindowCounts:
    """The counters of one (source, version, window), as the evaluator reads them."""

    source_id: int
    version: int
    window_start: int
    records: int
    unknown: Mapping[str, int]
    mismatch: Mapping[str, int]


def read_window(client: redis.Redis, start: int) -> list[WindowCounts]:
    """Every (source, version) counted in the window starting at ``start``."""
    members = sorted(_text(m) for m in client.smembers(windows_key(start)))
    result = []
    for member in members:
        source_id, version = (int(p) for p in member.split(":"))
        raw = client.hgetall(counts_key(source_id, version, start))
        fields = {_text(k): int(v) for k, v in raw.items()}
        result.append(
            WindowCounts(
                source_id=source_id,
                version=version,
                window_start=start,
                records=fields.get(RECORDS, 0),
                unknown={k[len(UNKNOWN) :]: v for k, v in fields.items() if k.startswith(UNKNOWN)},
                mismatch={
                    k[len(MISMATCH) :]: v for k, v in fields.items() if k.startswith(MISMATCH)
                },
            )
        )
    return result


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- evaluation of closed windows (the ``evaluate_drift`` job) -----------------------------


def drift_rows(counts: WindowCounts, window_s: int, threshold: float) -> list[DriftRow]:
    """The drift events of one window: fields outside the contract, or of the wrong type, in
    more than ``threshold`` of the window's records."""
    if counts.records <= 0:
        return []
    start = dt.datetime.fromtimestamp(counts.window_start, dt.UTC)
    end = start + dt.timedelta(seconds=window_s)
    rows = []
    for kind, by_field in (
        (DriftKind.UNKNOWN_FIELD, counts.unknown),
        (DriftKind.TYPE_MISMATCH, counts.mismatch),
    ):
        for name, occurrences in sorted(by_field.items()):
            share = occurrences / counts.records
            if share > threshold:
                rows.append(
                    DriftRow(
                        source_id=counts.source_id,
                        contract_version=counts.version,
                        field=name,
                        kind=kind,
                        window_start=start,
                        window_end=end,
                        records=counts.records,
                        occurrences=occurrences,
                        share=share,
                    )
                )
    return rows


def closed_windows(now: float, window_s: int) -> list[int]:
    """Starts of the closed windows whose counters may still exist (newest last)."""
    current = window_start(now, window_s)
    return [current - n * window_s for n in range(TTL_WINDOWS - 1, 0, -1)]


def evaluate_windows(
    client: redis.Redis,
    engine: Engine,
    *,
    window_s: int,
    threshold: float,
    now: float | None = None,
) -> int:
    """Record drift events for every closed window still counted; return how many were new.

    Idempotent: a window evaluated again inserts nothing (the drift table's unique key).
    """
    rows = [
        row
        for start in closed_windows(time.time() if now is None else now, window_s)
        for counts in read_window(client, start)
        for row in drift_rows(counts, window_s, threshold)
    ]
    if not rows:
        return 0
    with engine.begin() as connection:
        return insert_drift(connection, rows)
