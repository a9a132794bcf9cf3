"""Running the simulator: API keys for its run, the paced tick loop, fault and progress logs.

The simulator creates one API key per demo source when it starts (labelled ``simulator``,
audited like any key) and revokes them when it stops, so no long-lived key is written to disk.
The keys are held in memory only and never logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ingest.faults import FaultSchedule
from ingest.simulator import Simulator
from ingest.sources_cache import bump_catalog_version
from models.api_keys import create_key, revoke_key
from models.audit import Actor
from models.catalog import CatalogError, source_ids_by_key
from models.sources import Source

log = logging.getLogger(__name__)
SIMULATOR_ACTOR = Actor("system:simulator")
KEY_LABEL = "simulator"


def provision_keys(engine: Engine, client: redis.Redis, sources: Iterable[str]) -> dict[str, str]:
    """A new API key for each source (plaintext, by source key), visible to the API at once.

    Raises:
        CatalogError: a source does not exist (the demo catalogue is not seeded).
    """
    keys = {}
    with Session(engine) as session, session.begin():
        ids = source_ids_by_key(session)
        for source_key in sources:
            if source_key not in ids:
                raise CatalogError(
                    f"source {source_key!r} does not exist: run `northstar demo seed` first"
                )
            source = session.get_one(Source, ids[source_key])
            keys[source_key] = create_key(session, source, SIMULATOR_ACTOR, label=KEY_LABEL)
    bump_catalog_version(client)
    return keys


def revoke_keys(engine: Engine, client: redis.Redis, keys: Iterable[str]) -> None:
    """Revoke the keys ``provision_keys`` made (by their prefix)."""
    with Session(engine) as session, session.begin():
        for plaintext in keys:
            revoke_key(session, plaintext, SIMULATOR_ACTOR)
    bump_catalog_version(client)


@dataclass(frozen=True, slots=True)
class Pacing:
    duration_s: float | None = None
    """Stop after this many seconds; None runs until interrupted."""
    tick_s: float = 1.0
    report_every_s: float = 10.0


def _log_fault_changes(schedule: FaultSchedule, before_s: float | None, after_s: float) -> None:
    started, ended = (
        (schedule.active(after_s), ()) if before_s is None else schedule.changes(before_s, after_s)
    )
    for window in started:
        log.warning("fault starts: %s", window.describe())
    for window in ended:
        log.warning("fault ends: %s %s", window.kind.value, window.source)


def run(
    simulator: Simulator,
    pacing: Pacing,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Tick once per ``tick_s`` until ``duration_s`` (or KeyboardInterrupt in the caller).

    Each tick posts the events of the time since the previous one, so the rate holds even
    when posting is slow. A daily feed's rows are posted at start and when the UTC day turns.
    """
    start = clock()
    previous: float | None = None
    next_report = pacing.report_every_s
    day = dt.datetime.now(dt.UTC).date()
    simulator.send_daily(day - dt.timedelta(days=1))
    while True:
        elapsed = clock() - start
        if pacing.duration_s is not None and elapsed >= pacing.duration_s:
            break
        _log_fault_changes(simulator.schedule, previous, elapsed)
        now = dt.datetime.now(dt.UTC)
        seconds = pacing.tick_s if previous is None else elapsed - previous
        simulator.tick(now, elapsed, seconds)
        previous = elapsed
        if now.date() != day:
            simulator.send_daily(day)
            day = now.date()
        if elapsed >= next_report:
            log.info("after %.0f s: %s", elapsed, simulator.stats.line())
            next_report += pacing.report_every_s
        sleep(max(0.0, start + elapsed + pacing.tick_s - clock()))
    log.info("simulator done: %s", simulator.stats.line())
