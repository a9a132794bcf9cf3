"""Native storage: day partitions ahead, retention by source and for minute rollups, retries."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from integration.factories import (
    ROOT_UNIT,
    all_rollups,
    catalog_layout,
    make_catalog,
    require_native,
    rollups,
)
from models.settings import Settings, StorageBackend
from models.storage import native
from models.storage.maintenance import LOCK_TIMEOUT_MS, run_maintenance
from models.writes import EventRow, WriteResult, write_events

NOW = dt.datetime(2031, 5, 10, 13, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


def partitions(engine: Engine, table: str) -> set[str]:
    with engine.connect() as connection:
        return {name for name, _ in native.existing_partitions(connection, table)}


@pytest.fixture
def clean(db: Engine) -> Iterator[Engine]:
    """Empty fact tables without any day partition (other tests leave theirs behind)."""
    require_native(db)
    _drop_all_partitions(db)
    yield db
    _drop_all_partitions(db)


def _drop_all_partitions(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in ("events", "rollup_1m"):
            for name, _ in native.existing_partitions(connection, table):
                connection.exec_driver_sql(f"DROP TABLE {name}")


CATALOG = catalog_layout()
"""The ids of what ``make_catalog`` inserts: one org unit, sources orders and tickets."""
UNIT = ROOT_UNIT
MEASURE = {"orders": "amount", "tickets": "minutes"}
"""Per source: the one measure its events here carry."""


def event(source: str, ts: dt.datetime, event_id: str) -> EventRow:
    return EventRow(
        ts=ts,
        source_id=CATALOG.sources[source],
        event_id=event_id,
        org_unit_id=UNIT,
        measures={MEASURE[source]: 10.0},
    )


def at(offset_days: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day(offset_days), dt.time(hour), tzinfo=dt.UTC)


# --- partitions ahead ----------------------------------------------------------------------


def test_maintenance_creates_partitions_from_today_to_the_ahead_window(
    clean: Engine, settings: Settings
) -> None:
    ahead = settings.model_copy(update={"partitions_ahead_days": 3})

    report = run_maintenance(clean, ahead, NOW)

    want = {native.partition_name(t, day(n)) for t in ("events", "rollup_1m") for n in range(4)}
    assert report.backend is StorageBackend.NATIVE
    assert set(report.created) == want
    assert partitions(clean, "events") | partitions(clean, "rollup_1m") == want


def test_maintenance_twice_creates_nothing_the_second_time(
    clean: Engine, settings: Settings
) -> None:
    run_maintenance(clean, settings, NOW)

    again = run_maintenance(clean, settings, NOW)

    assert again.created == ()
    assert again.dropped == ()
    assert again.deleted_total == 0


def test_concurrent_partition_creators_each_create_a_partition_once(clean: Engine) -> None:
    days = [day(n) for n in range(5)]
    created: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def creator() -> None:
        try:
            start.wait()
            with clean.begin() as connection:
                created.append(native.ensure_partitions(connection, days))
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=creator) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    names = [name for batch in created for name in batch]
    assert sorted(names) == sorted(
        native.partition_name(t, d) for t in ("events", "rollup_1m") for d in days
    )


def test_a_batch_spanning_midnight_creates_both_day_partitions(clean: Engine) -> None:
    make_catalog(clean)
    before = dt.datetime.combine(day(-3), dt.time(23, 59, 59, 999_999), tzinfo=dt.UTC)
    after = before + dt.timedelta(microseconds=1)

    result = write_events(clean, [event("orders", before, "a"), event("orders", after, "b")])

    assert result.new_rows == 2
    with clean.connect() as connection:
        placed = dict(
            connection.execute(text("SELECT event_id, tableoid::regclass::text FROM events")).all()
        )
    assert placed == {
        "a": native.partition_name("events", day(-3)),
        "b": native.partition_name("events", day(-2)),
    }
    midnight = dt.datetime.combine(day(-2), dt.time(), tzinfo=dt.UTC)
    minutes = rollups(clean, "rollup_1m")
    assert minutes[(midnight - dt.timedelta(minutes=1), CATALOG.metric("orders"), UNIT)][0] == 1
    assert minutes[(midnight, CATALOG.metric("orders"), UNIT)][0] == 1
    assert {native.partition_name("rollup_1m", d) for d in (day(-3), day(-2))} <= partitions(
        clean, "rollup_1m"
    )


def test_a_retried_batch_is_new_for_nothing_and_changes_no_rollup(clean: Engine) -> None:
    make_catalog(clean)
    batch = [event("orders", at(-1, hour), f"r{hour}") for hour in (1, 5, 23)]
    write_events(clean, batch)
    before = all_rollups(clean)

    retried = write_events(clean, batch)

    assert retried == WriteResult(0, frozenset())
    assert all_rollups(clean) == before


def test_a_batch_mixing_retried_and_new_events_counts_only_the_new(clean: Engine) -> None:
    make_catalog(clean)
    batch = [event("orders", at(-1, hour), f"r{hour}") for hour in (1, 5, 23)]
    write_events(clean, batch)

    result = write_events(clean, [*batch, event("orders", at(-1, 2), "fresh")])

    assert result == WriteResult(
        1, frozenset({CATALOG.metric("orders"), CATALOG.metric("orders", "amount")})
    )
    daily = rollups(clean, "rollup_1d")
    n, total, *_ = daily[(at(-1, 0), CATALOG.metric("orders", "amount"), UNIT)]
    assert (n, total) == (4, 40.0)


# --- retention -----------------------------------------------------------------------------


@pytest.fixture
def aged(clean: Engine, settings: Settings) -> Settings:
    """Orders kept 10 days, tickets 30; events 40, 20, 5 and 0 days old; minute rollups 35."""
    make_catalog(clean, retention_days={"orders": 10, "tickets": 30})
    rows = [
        event(source, at(-age), f"{source}-{age}")
        for source in ("orders", "tickets")
        for age in (40, 20, 5, 0)
    ]
    write_events(clean, rows)
    return settings.model_copy(update={"rollup_1m_retention_days": 35})


def stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT event_id FROM events")).scalars())


def test_a_partition_past_every_sources_retention_is_dropped(clean: Engine, aged: Settings) -> None:
    report = run_maintenance(clean, aged, NOW)

    assert native.partition_name("events", day(-40)) in report.dropped
    assert native.partition_name("events", day(-40)) not in partitions(clean, "events")
    assert not stored_ids(clean) & {"orders-40", "tickets-40"}


def test_a_partition_past_only_some_retention_is_kept_and_loses_their_rows(
    clean: Engine, aged: Settings
) -> None:
    report = run_maintenance(clean, aged, NOW)

    assert native.partition_name("events", day(-20)) in partitions(clean, "events")
    assert report.deleted_events == {CATALOG.sources["orders"]: 1}
    assert stored_ids(clean) == {"orders-5", "orders-0", "tickets-20", "tickets-5", "tickets-0"}


def test_minute_rollups_are_dropped_after_their_retention_but_hours_and_days_stay(
    clean: Engine, aged: Settings
) -> None:
    days_before = rollups(clean, "rollup_1d")

    report = run_maintenance(clean, aged, NOW)

    assert native.partition_name("rollup_1m", day(-40)) in report.dropped
    assert native.partition_name("rollup_1m", day(-20)) in partitions(clean, "rollup_1m")
    minute_days = {bucket.date() for bucket, _, _ in rollups(clean, "rollup_1m")}
    assert minute_days == {day(-20), day(-5), day(0)}
    assert day(-40) in {bucket.date() for bucket, _, _ in rollups(clean, "rollup_1h")}
    assert rollups(clean, "rollup_1d") == days_before  # retention drops raw data, not aggregates


def test_today_and_future_partitions_survive_the_shortest_retention(
    clean: Engine, settings: Settings
) -> None:
    make_catalog(clean, retention_days={"orders": 1, "tickets": 1})
    short = settings.model_copy(update={"rollup_1m_retention_days": 1, "partitions_ahead_days": 2})
    late_evening = dt.datetime.combine(TODAY, dt.time(23, 59, 59), tzinfo=dt.UTC)
    write_events(clean, [event("orders", at(-2), "old"), event("orders", at(0), "now")])

    report = run_maintenance(clean, short, late_evening)

    kept = {native.partition_name(t, day(n)) for t in ("events", "rollup_1m") for n in (0, 1, 2)}
    assert kept <= partitions(clean, "events") | partitions(clean, "rollup_1m")
    assert native.partition_name("events", day(-2)) in report.dropped
    assert stored_ids(clean) == {"now"}


def test_a_partition_whose_lock_is_busy_is_deferred_not_waited_for(
    clean: Engine, aged: Settings
) -> None:
    name = native.partition_name("events", day(-40))
    with clean.connect() as reader, reader.begin():
        reader.execute(text("LOCK TABLE events IN ACCESS SHARE MODE"))  # a long dashboard read

        dropped = native.drop_partition(clean, "events", name, lock_timeout_ms=200)

        assert dropped is False
        assert name in partitions(clean, "events")

    assert native.drop_partition(clean, "events", name, LOCK_TIMEOUT_MS) is True
    assert name not in partitions(clean, "events")


def test_no_partition_is_made_outside_the_allowed_days(db: Engine) -> None:
    require_native(db)
    allowed = (dt.date(2000, 1, 1), dt.date(2030, 1, 1))
    days = [dt.date(2026, 1, 1), dt.date(9999, 12, 31)]
    with db.begin() as connection, pytest.raises(native.PartitionRefused, match="9999-12-31"):
        native.ensure_partitions(connection, days, allowed=allowed)
    with db.connect() as connection:
        # Refused before anything was created, the allowed day included.
        assert len(native.missing_partitions(connection, days)) == 4


def test_a_value_whose_square_overflows_is_stored_with_an_infinite_sum_of_squares(
    db: Engine,
) -> None:
    make_catalog(db)
    amount = CATALOG.metric("orders", "amount")
    rows = [
        EventRow(at(0, h), CATALOG.sources["orders"], f"o{h}", UNIT, {"amount": v})
        for h, v in ((1, 1e200), (3, 3.0), (2, 1.0))
    ]
    write_events(db, rows)

    by_table = {table: rollups(db, table) for table in ("rollup_1m", "rollup_1h", "rollup_1d")}
    day_row = by_table["rollup_1d"][(at(0, 0), amount, UNIT)]
    assert (day_row.n, day_row.total) == (3, 1e200 + 4.0)
    assert day_row.sum_sq == float("inf")
    assert by_table["rollup_1h"][(at(0, 2), amount, UNIT)].sum_sq == 1.0
