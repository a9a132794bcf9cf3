"""A late event is in the rollups, under new data versions, once the worker has run.

Runs on whichever backend the test database has: natively the rollups change in the ingest
transaction; on TimescaleDB the drain enqueues the refresh job, which materialises the
touched buckets and then bumps the versions (``ingest.refresh``).
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import Engine, text

from ingest import refresh, streams, versions
from ingest.runtime import Services
from integration.drain_support import catalog, publish_records, services, ts_us
from integration.factories import Catalog
from integration.ingest.test_pipeline import drain_everything

__all__ = ["catalog", "services"]  # fixtures


def order(services: Services, event_id: str, at: dt.datetime, amount: float) -> None:
    record = streams.StreamRecord(0, event_id, ts_us(at), "unit2", {"amount": amount}, {}, {})
    published = publish_records(services.redis, services.settings, 1, "orders", [record])
    drain_everything(services, [published])


def hour_total(engine: Engine, metric_id: int, at: dt.datetime) -> float:
    hour = at.replace(minute=0, second=0, microsecond=0)
    with engine.connect() as connection:
        return float(
            connection.execute(
                text(
                    "SELECT coalesce(sum(total), 0) FROM rollup_1h "
                    "WHERE metric_id = :m AND bucket = :b"
                ),
                {"m": metric_id, "b": hour},
            ).scalar_one()
        )


def test_a_late_event_is_in_the_rollups_and_bumps_the_versions_within_seconds(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    amount = catalog.metric("orders", "amount")
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    order(services, "early", at, 2.0)
    refresh.refresh_and_bump(services)  # TimescaleDB: that hour is materialised now
    before = versions.current(services.redis, [amount])[amount]

    started = time.monotonic()
    order(services, "late", at + dt.timedelta(seconds=1), 5.0)
    elapsed = time.monotonic() - started

    assert hour_total(db, amount, at) == 7.0
    assert versions.current(services.redis, [amount])[amount] > before
    assert elapsed < 5.0
