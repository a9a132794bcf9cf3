"""Back-fill the demo with N days of generated events through the storage write function."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ingest.demo.catalog import business_units
from ingest.demo.generator import DEFAULT_SEED, GeneratedEvent, Generator, floor_hour
from ingest.demo.profiles import DEMO_SOURCES
from models.catalog import CatalogError, org_unit_ids_by_key, source_ids_by_key
from models.writes import EventRow, write_events

BATCH_SIZE = 5_000


@dataclass(frozen=True, slots=True)
class SourceHistory:
    source_key: str
    generated: int
    written: int
    """Rows that were new; 0 when the same history had been written before."""


@dataclass(frozen=True, slots=True)
class HistoryReport:
    start: dt.datetime
    end: dt.datetime
    sources: tuple[SourceHistory, ...]
    seconds: float

    @property
    def written(self) -> int:
        return sum(s.written for s in self.sources)


def demo_generator(*, seed: int = DEFAULT_SEED, scale: float = 1.0) -> Generator:
    """The generator of the demo organisation's four sources (also for a live simulator)."""
    return Generator(business_units(), DEMO_SOURCES, seed=seed, scale=scale)


def _rows(
    events: Iterable[GeneratedEvent], source_id: int, unit_ids: Mapping[str, int]
) -> Iterator[EventRow]:
    for e in events:
        yield EventRow(
            e.ts, source_id, e.event_id, unit_ids[e.unit_key], e.measures, e.dims, e.attrs
        )


def _ids(engine: Engine, generator: Generator) -> tuple[dict[str, int], dict[str, int]]:
    with Session(engine) as session:
        sources, units = source_ids_by_key(session), org_unit_ids_by_key(session)
    missing = [s.key for s in generator.sources if s.key not in sources]
    missing += [u.key for u in generator.units if u.key not in units]
    if missing:
        raise CatalogError(
            f"the demo catalogue is not seeded (missing {', '.join(missing[:5])}): "
            "run `northstar demo seed` first"
        )
    return sources, units


def write_history(
    engine: Engine,
    *,
    days: float = 30,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    now: dt.datetime | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[SourceHistory], None] | None = None,
) -> HistoryReport:
    """Write ``days`` of every demo source's events, ending at the last full hour before ``now``.

    Re-running writes nothing new: events are identical and identified by deterministic ids.

    Args:
        scale: multiplies every volume (1.0 is about 12 thousand events a day).
        progress: called with each source's result as soon as it is written.
    """
    if days <= 0:
        raise ValueError("days must be positive")
    started = time.monotonic()
    generator = demo_generator(seed=seed, scale=scale)
    source_ids, unit_ids = _ids(engine, generator)
    end = floor_hour(now or dt.datetime.now(dt.UTC))
    start = floor_hour(end - dt.timedelta(days=days))
    results = []
    for profile in generator.sources:
        rows = _rows(generator.events(profile.key, start, end), source_ids[profile.key], unit_ids)
        generated = written = 0
        while batch := list(islice(rows, batch_size)):
            generated += len(batch)
            written += write_events(engine, batch).new_rows
        result = SourceHistory(profile.key, generated, written)
        results.append(result)
        if progress is not None:
            progress(result)
    return HistoryReport(start, end, tuple(results), time.monotonic() - started)
