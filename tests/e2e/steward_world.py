"""The data the steward browser tests act on: the demo catalogue, a steward, an outage, a
quarantined batch, all produced by the product's own code.

- ``build_steward_world``: the demo catalogue (sources owned by the company root), a steward of
  the whole company (built-in role ``steward``: ``incident:manage`` and ``quarantine:manage``)
  and the demo history up to an hour ago.
- ``simulate_outage``: the live simulator posts the last fault cycle of events to the live
  server with the default schedule's outage (the ``silence`` window on orders) in force at the
  end, a burst worker drains them, and one data-quality cycle runs at ``now``: orders has been
  silent for longer than its SLA, so a freshness incident opens.
- ``quarantine_refunds``: the simulator posts a batch of orders of which some are refunds (a
  negative amount the contract refuses: rule ``min``); a contract fix then allows them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from ingest import jobs
from ingest.demo.catalog import COMPANY_KEY, ORDERS
from ingest.demo.history import demo_generator, write_history
from ingest.demo.seed import seed_demo
from ingest.faults import DEFAULT_SCHEDULE, FaultKind, FaultSchedule, FaultWindow
from ingest.quality import runner
from ingest.simulator import Batch, Simulator, mean_rate_at_scale_one
from ingest.simulator_http import IngestClient
from ingest.simulator_run import provision_keys, revoke_keys
from ingest.sources_cache import bump_catalog_version
from ingest.worker import run_worker
from models.accounts import UserSpec, create_user
from models.audit import Actor
from models.catalog import ensure_contract
from models.settings import Settings
from models.sources import Source

STEWARD = "sam.e2e@example.com"
STEWARD_NAME = "Sam Steward"
PASSWORD = "e2e correct horse battery staple"
ACTOR = Actor("system:e2e-tests")
SEED = 7
RATE = 4 * mean_rate_at_scale_one(demo_generator(seed=SEED))
"""Events per second of the simulated stretch: orders send several events a minute."""
TICK_S = 60.0
STREAMING = ("orders", "web_sessions", "support_tickets")


def outage_window() -> FaultWindow:
    """The default schedule's outage: orders go silent for longer than their SLA."""
    return next(w for w in DEFAULT_SCHEDULE.windows if w.kind is FaultKind.SILENCE)


@dataclass(frozen=True)
class StewardWorld:
    engine: Engine
    settings: Settings
    redis: redis.Redis
    steward_id: int
    now: dt.datetime


def build_steward_world(engine: Engine, client: redis.Redis, settings: Settings) -> StewardWorld:
    """The demo catalogue, the steward and the demo history up to an hour ago."""
    now = dt.datetime.now(dt.UTC)
    seed_demo(engine, settings)
    with Session(engine) as session, session.begin():
        spec = UserSpec(STEWARD, STEWARD_NAME, ("steward",), (COMPANY_KEY,))
        steward_id = create_user(session, spec, PASSWORD, ACTOR).id
    write_history(engine, days=2, scale=0.2, now=now - dt.timedelta(hours=1))
    return StewardWorld(engine, settings, client, steward_id, now)


def drain(settings: Settings) -> None:
    """Run a burst worker until the streams and queues are empty, as production's worker."""
    jobs.init_services(settings)
    run_worker(settings, burst=True, logging_level="WARNING")


@dataclass(frozen=True)
class Outage:
    window: FaultWindow
    started: dt.datetime
    """When the simulator's fault cycle began (elapsed 0)."""
    silent_since: dt.datetime
    checked_at: dt.datetime
    opened: tuple[int, ...]
    """The incidents the cycle opened."""


def simulate_outage(world: StewardWorld, base_url: str) -> Outage:
    """One fault cycle of the simulator ending now, the outage in force at its end; then a
    data-quality cycle at ``now``, once the outage is older than the orders' SLA."""
    window = outage_window()
    assert window.source == ORDERS.key
    schedule = FaultSchedule((window,), period_s=DEFAULT_SCHEDULE.period_s)
    elapsed_now = window.end_s - 10.0
    now = dt.datetime.now(dt.UTC)
    started = now - dt.timedelta(seconds=elapsed_now)
    keys = provision_keys(world.engine, world.redis, STREAMING)
    client = IngestClient(base_url)
    try:
        simulator = Simulator(client, keys, schedule, rate=RATE, seed=SEED)
        ticks = [TICK_S * n for n in range(1, int(elapsed_now // TICK_S) + 1)]
        for before, elapsed in zip([0.0, *ticks], [*ticks, elapsed_now], strict=True):
            if elapsed > before:
                simulator.tick(started + dt.timedelta(seconds=elapsed), elapsed, elapsed - before)
        assert simulator.stats.accepted[ORDERS.key] > 0
        assert sum(simulator.stats.rejected.values()) == 0
    finally:
        client.close()
        revoke_keys(world.engine, world.redis, keys.values())
    drain(world.settings)
    report = runner.run_cycle(world.engine, world.settings, now)
    silent_since = started + dt.timedelta(seconds=window.start_s)
    return Outage(window, started, silent_since, now, tuple(report.incidents.opened))


def newest_event(engine: Engine, source_key: str) -> dt.datetime | None:
    with engine.connect() as connection:
        newest: dt.datetime | None = connection.execute(
            text(
                "SELECT max(e.ts) FROM events e JOIN sources s ON s.id = e.source_id "
                "WHERE s.key = :k"
            ),
            {"k": source_key},
        ).scalar_one()
        return newest


def open_incidents(engine: Engine) -> dict[tuple[str, str], int]:
    """Unresolved incidents by (source key, check key)."""
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT s.key, c.key, i.id FROM incidents i JOIN sources s ON s.id = i.source_id "
                "JOIN dq_checks c ON c.id = i.check_id WHERE CAST(i.status AS text) <> 'resolved'"
            )
        )
        return {(source, check): int(incident) for source, check, incident in found}


def incident_row(engine: Engine, incident_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT CAST(status AS text) AS status, acknowledged_by, resolved_by, "
                "resolution_note FROM incidents WHERE id = :id"
            ),
            {"id": incident_id},
        ).one()
        return dict(row._mapping)


# --- the quarantined batch -------------------------------------------------------------------

REFUNDS = 3
"""Orders of the batch that are refunds (negative amounts): the contract refuses them."""


@dataclass(frozen=True)
class Quarantined:
    order_ids: frozenset[str]
    """The refunds' order ids, quarantined."""
    accepted_ids: frozenset[str]
    """The rest of the batch, stored."""


def quarantine_refunds(world: StewardWorld, base_url: str) -> Quarantined:
    """The simulator posts a batch of orders, three of them refunds; a worker drains it."""
    keys = provision_keys(world.engine, world.redis, [ORDERS.key])
    client = IngestClient(base_url)
    try:
        simulator = Simulator(client, keys, FaultSchedule((), 3_600.0), rate=RATE, seed=SEED)
        profile = next(p for p in simulator.maker.streaming if p.key == ORDERS.key)
        records: list[dict[str, Any]] = []
        at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
        while len(records) < REFUNDS + 3:
            records += simulator.maker.records(profile, at, 600.0)
        for record in records[:REFUNDS]:
            record["amount"] = -abs(float(record["amount"])) - 1.0
        outcome = simulator.send(Batch(ORDERS.key, records))
        assert (outcome.status, outcome.rejected) == (202, REFUNDS), outcome
    finally:
        client.close()
        revoke_keys(world.engine, world.redis, keys.values())
    drain(world.settings)
    ids = [str(r["order_id"]) for r in records]
    return Quarantined(frozenset(ids[:REFUNDS]), frozenset(ids[REFUNDS:]))


def allow_refunds(world: StewardWorld) -> int:
    """The contract fix: a new version of the orders contract whose amount may be negative.
    Returns the new version."""
    fields = tuple(
        f.model_copy(update={"min": -100_000.0}) if f.name == "amount" else f for f in ORDERS.fields
    )
    with Session(world.engine) as session, session.begin():
        source = session.scalars(select(Source).where(Source.key == ORDERS.key)).one()
        contract = ensure_contract(session, source, fields, ACTOR, note="refunds are negative")
        version = int(contract.version)
    bump_catalog_version(world.redis)
    return version


def quarantine_rows(engine: Engine) -> dict[str, tuple[str, str]]:
    """Every quarantined orders record by order id: (status, rule)."""
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT payload, CAST(status AS text), rule FROM quarantine")
        )
        return {str((p or {}).get("order_id")): (status, rule) for p, status, rule in found}


def stored_order_ids(engine: Engine, order_ids: frozenset[str]) -> set[str]:
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT e.event_id FROM events e JOIN sources s ON s.id = e.source_id "
                "WHERE s.key = 'orders' AND e.event_id = ANY(:ids)"
            ),
            {"ids": sorted(order_ids)},
        )
        return {str(event_id) for event_id in found.scalars()}
