"""Property: whatever batches arrive, every rollup equals the aggregate of the stored events.

The oracle recomputes the rollups in Python from the rows in ``events`` (not with the write
path's SQL), so a bucketing or folding mistake in the SQL cannot hide behind the same mistake.
The session time zone is set away from UTC, so UTC bucketing is exercised, not assumed.

It runs on whichever backend the test database has. On TimescaleDB, refreshes (what the
refresh job does) are interleaved with the batches at random, and the rollups must equal the
events after the final one: late events into materialised buckets, re-materialised buckets
and open buckets all occur.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, text

from integration.factories import (
    ROLLUP_TABLES,
    SOURCE_MEASURES,
    Aggregate,
    Catalog,
    RollupKey,
    make_catalog,
    rollup_differences,
    stored_rollups,
    utc_bucket,
)
from models.enums import Granularity
from models.settings import Settings, StorageBackend
from models.storage import installed_backend, timescale
from models.writes import EventRow, WriteResult, write_events

# --- oracle: rollups recomputed in Python from the stored events ---------------------------


def stored_events(
    connection: Connection,
) -> list[tuple[dt.datetime, int, str, int, dict[str, Any]]]:
    return [
        (ts, source_id, event_id, unit, measures)
        for ts, source_id, event_id, unit, measures in connection.execute(
            text("SELECT ts, source_id, event_id, org_unit_id, measures FROM events")
        )
    ]


def expected_rollups(
    connection: Connection, catalog: Catalog, granularity: Granularity
) -> dict[RollupKey, Aggregate]:
    """The rollup rows ``granularity`` must hold, given what is in ``events`` now."""
    expected: dict[RollupKey, Aggregate] = {}
    for ts, source_id, _event_id, unit, measures in stored_events(connection):
        values: list[tuple[int, float]] = [(catalog.metrics[(source_id, None)], 1.0)]
        values += [
            (catalog.metrics[(source_id, name)], float(v))
            for name, v in measures.items()
            if (source_id, name) in catalog.metrics
        ]
        bucket = utc_bucket(ts, granularity)
        for metric_id, v in values:
            key = (bucket, metric_id, unit)
            if key in expected:
                expected[key].add(v, ts)
            else:
                expected[key] = Aggregate(1, v, v, v, v * v, ts)
    return expected


def rollup_mismatches(engine: Engine, catalog: Catalog) -> list[str]:
    """Every way the stored rollups differ from the events (empty when they agree)."""
    problems: list[str] = []
    with engine.connect() as connection:
        for granularity, table in ROLLUP_TABLES.items():
            want = expected_rollups(connection, catalog, granularity)
            problems += rollup_differences(table, want, stored_rollups(connection, table))
    return problems


def truncate_facts(engine: Engine) -> None:
    with engine.begin() as connection:
        tables = "events, rollup_1m, rollup_1h, rollup_1d, rollup_refresh_pending"
        if installed_backend(connection) is StorageBackend.TIMESCALE:
            tables += ", " + ", ".join(timescale.FEED_TABLES)
        connection.execute(text(f"TRUNCATE {tables}"))


def refresh_if_timescale(engine: Engine) -> None:
    """What the refresh job does; nothing on the native backend (nothing is deferred)."""
    with engine.connect() as connection:
        backend = installed_backend(connection)
    if backend is StorageBackend.TIMESCALE:
        timescale.refresh_pending(engine, dt.datetime.now(dt.UTC))


# --- the property --------------------------------------------------------------------------

# A few days ago, so that on TimescaleDB the days are materialised (closed) and inside the
# refresh horizon; day 4 is the open day when the test runs just after midnight.
BASE = dt.datetime.combine(
    dt.datetime.now(dt.UTC).date() - dt.timedelta(days=4), dt.time(), tzinfo=dt.UTC
)
# Seconds into a day that sit on minute, hour and day edges, so buckets are cut exactly there.
EDGE_SECONDS = (0, 1, 59, 60, 3599, 3600, 7199, 43200, 86340, 86399)

timestamps = st.builds(
    lambda day, second, micro: BASE + dt.timedelta(days=day, seconds=second, microseconds=micro),
    st.integers(0, 3),
    st.sampled_from(EDGE_SECONDS) | st.integers(0, 86399),
    st.sampled_from((0, 1, 999_999)),
)
values = st.integers(-100_000, 100_000).map(lambda cents: cents / 100)


@dataclass(frozen=True)
class Draft:
    """An event before the catalog gives it ids: source by key, unit by index."""

    source: str
    event_id: str
    ts: dt.datetime
    unit: int
    measures: Mapping[str, float]

    @property
    def identity(self) -> tuple[str, str, dt.datetime]:
        return (self.source, self.event_id, self.ts)


@st.composite
def drafts(draw: st.DrawFn) -> Draft:
    source = draw(st.sampled_from(sorted(SOURCE_MEASURES)))
    # Some measures are optional and missing; "note" is not a metric and must be ignored.
    names = draw(st.sets(st.sampled_from((*SOURCE_MEASURES[source], "note"))))
    return Draft(
        source=source,
        event_id=draw(st.sampled_from([f"e{n}" for n in range(6)])),
        ts=draw(timestamps),
        unit=draw(st.integers(0, 2)),
        measures={name: draw(values) for name in sorted(names)},
    )


@st.composite
def scenarios(draw: st.DrawFn) -> list[tuple[list[Draft], bool]]:
    """Batches over a pool of events: duplicates within and across batches, retries, any order.

    A retried event carries its original payload, as producers resend the same record.
    """
    pool = draw(st.lists(drafts(), min_size=1, max_size=20, unique_by=lambda d: d.identity))
    batches: list[list[Draft]] = []
    for _ in range(draw(st.integers(1, 6))):
        if batches and draw(st.booleans()):
            batches.append(draw(st.sampled_from(batches)))
        else:
            picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=12))
            batches.append([pool[i] for i in picks])
    # After each batch, maybe a refresh (TimescaleDB materialising what is closed).
    return [(batch, draw(st.booleans())) for batch in batches]


def to_row(draft: Draft, catalog: Catalog) -> EventRow:
    return EventRow(
        ts=draft.ts,
        source_id=catalog.sources[draft.source],
        event_id=draft.event_id,
        org_unit_id=catalog.units[draft.unit],
        measures=draft.measures,
    )


def expected_result(
    batch: Sequence[Draft], seen: set[tuple[str, str, dt.datetime]], catalog: Catalog
) -> WriteResult:
    new = {d.identity: d for d in batch if d.identity not in seen}
    metrics: set[int] = set()
    for draft in new.values():
        metrics |= catalog.metrics_of(catalog.sources[draft.source], draft.measures)
    return WriteResult(len(new), frozenset(metrics))


@pytest.fixture
def catalog(db: Engine) -> Catalog:
    return make_catalog(db, children=2)


@pytest.fixture
def off_utc(db: Engine, settings: Settings) -> Iterator[Engine]:
    """An engine whose sessions run at UTC+05:30, so UTC bucketing is really exercised."""
    engine = create_engine(
        settings.sqlalchemy_url, connect_args={"options": "-c TimeZone=Asia/Kolkata"}
    )
    yield engine
    engine.dispose()


# A TimescaleDB example costs about 3 s (refreshes of three views after truncating them).
EXAMPLES = 12 if os.environ.get("NORTHSTAR_STORAGE") == "timescale" else 40


@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=scenarios())
def test_rollups_equal_the_aggregate_of_events_after_any_batches(
    db: Engine, off_utc: Engine, catalog: Catalog, batches: list[tuple[list[Draft], bool]]
) -> None:
    truncate_facts(db)
    seen: set[tuple[str, str, dt.datetime]] = set()
    for batch, then_refresh in batches:
        want = expected_result(batch, seen, catalog)
        got = write_events(off_utc, [to_row(d, catalog) for d in batch])
        assert got == want
        seen |= {d.identity for d in batch}
        if then_refresh:
            refresh_if_timescale(db)
    refresh_if_timescale(db)

    with db.connect() as connection:
        stored = {(s, e, ts) for ts, s, e, _unit, _m in stored_events(connection)}
    assert stored == {(catalog.sources[s], e, ts) for s, e, ts in seen}
    assert rollup_mismatches(db, catalog) == []
