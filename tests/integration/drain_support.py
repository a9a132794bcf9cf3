"""Support for the drain tests: publishing records, running burst workers, the rollup oracle.

The oracle computes every rollup in Python from what the producers were told was accepted
(deduplicated by event identity), so the write path's SQL is not checked against itself.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from ingest import jobs, streams
from ingest.runtime import Services
from ingest.worker import QUEUES, make_worker
from models.settings import Settings

from .factories import ROLLUP_TABLES, Aggregate, Catalog, RollupKey, make_catalog, utc_bucket

UNITS = {"acme": 1, "unit2": 2, "unit3": 3}
"""The org units of ``make_catalog(children=2)`` by key."""
BASE = dt.datetime(2026, 3, 2, 9, 58, tzinfo=dt.UTC)

TEST_SETTINGS = {
    "ingest_claim_idle_ms": 1,
    "ingest_max_deliveries": 3,
    "ingest_partitions": 4,
    "drain_budget_s": 5.0,
}
"""Stale entries are reclaimable after a millisecond, so tests never wait for them."""


def ts_us(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def record(
    index: int,
    event_id: str,
    minutes: float,
    unit: str = "unit2",
    measures: Mapping[str, float] | None = None,
) -> streams.StreamRecord:
    """A record ``minutes`` after ``BASE`` (fractions allowed) in ``unit``."""
    moment = BASE + dt.timedelta(minutes=minutes)
    return streams.StreamRecord(
        index, event_id, ts_us(moment), unit, dict(measures or {}), {"channel": "web"}, {}
    )


@dataclass(frozen=True)
class Published:
    source_id: int
    source_key: str
    records: tuple[streams.StreamRecord, ...]
    batch_id: str
    partitions: tuple[int, ...]


def publish_records(
    client: redis.Redis,
    settings: Settings,
    source_id: int,
    source_key: str,
    records: Sequence[streams.StreamRecord],
    *,
    batch_id: str | None = None,
    rejections: Sequence[streams.Rejection] = (),
) -> Published:
    """Publish one request's records as the API does (one entry per partition)."""
    batch = batch_id or str(uuid.uuid4())
    by_partition = streams.split_by_partition(records, source_id, settings.ingest_partitions)
    envelopes = {
        p: streams.Envelope(batch, source_id, source_key, 1, time.time(), recs)
        for p, recs in by_partition.items()
    }
    partitions = streams.publish(
        client, envelopes, rejections, max_backlog=settings.ingest_max_backlog
    )
    return Published(source_id, source_key, tuple(records), batch, tuple(partitions))


def run_burst_worker(services: Services) -> None:
    """The project's rq worker in burst mode on the ingest queues, with ``services`` set."""
    jobs.init_services(services.settings)
    make_worker(QUEUES, services.redis).work(burst=True, logging_level="WARNING")


@pytest.fixture
def services(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[Services]:
    """The worker's Services with test settings, on empty tables and a flushed Redis."""
    built = jobs.init_services(settings.model_copy(update=TEST_SETTINGS))
    yield built
    built.close()
    jobs.init_services(settings)


@pytest.fixture
def catalog(db: Engine) -> Catalog:
    return make_catalog(db, children=2)


# --- oracle --------------------------------------------------------------------------------


def accepted_events(published: Iterable[Published]) -> dict[tuple[int, str, int], Any]:
    """Published records by identity (source id, event id, ts): duplicates collapse."""
    events: dict[tuple[int, str, int], Any] = {}
    for batch in published:
        for rec in batch.records:
            events.setdefault((batch.source_id, rec.event_id, rec.ts_us), rec)
    return events


def expected_rollups(
    published: Iterable[Published], catalog: Catalog
) -> dict[str, dict[RollupKey, Aggregate]]:
    """Every rollup table's rows for the accepted events (whose units are known)."""
    result: dict[str, dict[RollupKey, Aggregate]] = {t: {} for t in ROLLUP_TABLES.values()}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for (source_id, _, micros), rec in accepted_events(published).items():
        if rec.org_unit not in UNITS:
            continue
        moment = epoch + dt.timedelta(microseconds=micros)
        values: list[tuple[int, float]] = [(catalog.metrics[(source_id, None)], 1.0)]
        values += [
            (catalog.metrics[(source_id, m)], v)
            for m, v in rec.measures.items()
            if (source_id, m) in catalog.metrics
        ]
        for granularity, table in ROLLUP_TABLES.items():
            for metric_id, v in values:
                key = (utc_bucket(moment, granularity), metric_id, UNITS[rec.org_unit])
                agg = result[table].setdefault(key, Aggregate(0, 0.0, v, v, 0.0, moment))
                agg.add(v, moment)
    return result


def stored_identities(engine: Engine) -> list[tuple[int, str, int]]:
    """Every stored event's identity, duplicates kept (so a double insert shows)."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT source_id, event_id, ts FROM events"))
        return sorted((int(s), str(e), ts_us(t)) for s, e, t in rows)


def quarantine_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(
            text(
                "SELECT source_key, batch_id, record_index, rule, reason, field, payload, status "
                "FROM quarantine ORDER BY batch_id, record_index"
            )
        )
        return [dict(row._mapping) for row in result]
