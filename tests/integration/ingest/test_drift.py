"""Schema drift: a field outside the contract in more than 1 % of a window's records is recorded."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from ingest import drift, jobs
from ingest.runtime import Services
from integration.drain_support import catalog, services
from integration.factories import Catalog

__all__ = ["catalog", "services"]  # fixtures


def tally(records: int, unknown: dict[str, int], mismatch: dict[str, int]) -> drift.DriftTally:
    counted = drift.DriftTally()
    for n in range(records):
        names = [name for name, k in unknown.items() if n < k]
        wrong = next((name for name, k in mismatch.items() if n < k), None)
        counted.add(names, wrong)
    return counted


def drift_events(db: Engine) -> list[tuple[object, ...]]:
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT source_id, contract_version, field, kind::text, records, occurrences "
                "FROM schema_drift ORDER BY source_id, field, kind"
            )
        )
        return [tuple(row) for row in rows]


def test_fields_over_the_threshold_in_a_closed_window_become_drift_events(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    window = services.settings.drift_window_s
    last_window = time.time() - window
    counts = [
        # orders v3: 'coupon' in 1.1 % (drift), 'rare' in exactly 1 % (not more: no drift),
        # 'amount' of the wrong type in 2 %.
        (1, 3, tally(1000, {"coupon": 11, "rare": 10}, {"amount": 20})),
        # tickets v1: 'note' in 5 of 1000 records, well under the threshold.
        (2, 1, tally(1000, {"note": 5}, {})),
    ]
    for source_id, version, counted in counts:
        drift.count_drift(
            services.redis, source_id, version, counted, window_s=window, now=last_window
        )
    # The open window is not judged yet, however drifted it looks.
    drift.count_drift(services.redis, 2, 1, tally(10, {"fresh": 10}, {}), window_s=window)

    assert jobs.evaluate_drift() == 2
    assert drift_events(db) == [
        (1, 3, "amount", "type_mismatch", 1000, 20),
        (1, 3, "coupon", "unknown_field", 1000, 11),
    ]
    # Evaluated again by the next cron run: nothing new.
    assert jobs.evaluate_drift() == 0
    assert len(drift_events(db)) == 2


def test_drift_events_carry_their_window_and_share(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    window = 900
    start = 1_800_000_000 - 1_800_000_000 % window
    promo = tally(200, {"promo": 3}, {})
    drift.count_drift(services.redis, 1, 1, promo, window_s=window, now=start + 10)
    new = drift.evaluate_windows(
        services.redis, services.engine, window_s=window, threshold=0.01, now=start + window + 1
    )
    assert new == 1
    with db.connect() as connection:
        row = connection.execute(
            text(
                "SELECT extract(epoch FROM window_start), extract(epoch FROM window_end), share "
                "FROM schema_drift"
            )
        ).one()
    assert (int(row[0]), int(row[1])) == (start, start + window)
    assert row[2] == 0.015
