"""Data of the dashboard benchmark: the demo catalogue and history, bulk events, bench users.

The demo history (``ingest.demo.history.write_history``) comes first, then bulk events up to
the total asked for: the demo sources' own event makers (``ingest.demo.profiles``) for orders,
web sessions and support tickets, the demo business units weighted by their size, timestamps
spread evenly over the last 30 days. Bulk rows are generated in time order, 100,000 at a time,
and written 5,000 at a time with ``models.writes.write_events`` (binary COPY into staging, then
events and the 1m/1h/1d rollups in one transaction), so the rollups the pages read exist.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest.demo.catalog import COMPANY_KEY, KPIS, REGIONS, business_units, org_units
from ingest.demo.history import write_history
from ingest.demo.profiles import ORDERS, SUPPORT_TICKETS, WEB_SESSIONS
from models.accounts import UserSpec, create_user, find_user
from models.audit import Actor
from models.catalog import org_unit_ids_by_key, source_ids_by_key
from models.enums import OrgLevel
from models.writes import EventRow, write_events

BATCH = 5_000
CHUNK = 100_000
DAYS = 30
BULK_SHARES = ((ORDERS, 0.40), (WEB_SESSIONS, 0.45), (SUPPORT_TICKETS, 0.15))
"""Bulk events by source. Not the demo's proportions (97 % web sessions): every KPI's
metrics get millions of events, so no page reads only the demo's thin order history."""
PASSWORD = "bench-dashboard-password"  # noqa: S105 (bench databases only, see below)
"""The bench users' password: the bench refuses databases whose name lacks 'bench'."""
ACTOR = Actor("system:bench-dashboard")
KPI_KEYS = tuple(k.key for k in KPIS)

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LoadReport:
    history_events: int
    """New events written by the demo history (0 when it was written before)."""
    bulk_events: int
    total_events: int
    history_s: float
    bulk_s: float


def count_events(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM events")).scalar_one())


class BulkGenerator:
    """Demo-like events of the bulk sources at the demo business units, in time order."""

    def __init__(self, engine: Engine, run: str, seed: int = 11) -> None:
        with Session(engine) as session:
            sources, units = source_ids_by_key(session), org_unit_ids_by_key(session)
        leaves = business_units()
        self.unit_ids = [units[u.key] for u in leaves]
        self.unit_weights = [u.weight for u in leaves]
        self.profiles = [p for p, _ in BULK_SHARES]
        self.shares = [s for _, s in BULK_SHARES]
        self.source_ids = {p.key: sources[p.key] for p in self.profiles}
        self.rng = random.Random(seed)
        self.run = run
        self.serial = 0

    def rows(self, stamps: Sequence[dt.datetime]) -> list[EventRow]:
        rng = self.rng
        profiles = rng.choices(self.profiles, self.shares, k=len(stamps))
        units = rng.choices(self.unit_ids, self.unit_weights, k=len(stamps))
        out = []
        for ts, profile, unit_id in zip(stamps, profiles, units, strict=True):
            self.serial += 1
            measures, dims, attrs = profile.make(rng, self.serial, 0.0)
            event_id = f"{profile.id_prefix}-bench-{self.run}-{self.serial:09d}"
            out.append(
                EventRow(ts, self.source_ids[profile.key], event_id, unit_id, measures, dims, attrs)
            )
        return out


def write_bulk(engine: Engine, total: int, end: dt.datetime, log: Log) -> int:
    """Write ``total`` bulk events spread evenly over the ``DAYS`` days before ``end``."""
    generator = BulkGenerator(engine, run=f"{int(end.timestamp()):x}")
    start = end - dt.timedelta(days=DAYS)
    step = (end - start) / max(total, 1)
    rng = random.Random(5)
    written = done = 0
    started = time.monotonic()
    next_report = 0.1
    while done < total:
        size = min(CHUNK, total - done)
        # One slot per event, a random instant within it: increasing, evenly spread.
        stamps = [start + step * (done + i + rng.random()) for i in range(size)]
        rows = generator.rows(stamps)
        for offset in range(0, size, BATCH):
            written += write_events(engine, rows[offset : offset + BATCH]).new_rows
        done += size
        if done / total >= next_report or done == total:
            rate = done / (time.monotonic() - started)
            log(f"bulk: {done:,}/{total:,} events ({rate:,.0f}/s)")
            next_report += 0.1
    return written


def load_events(engine: Engine, total: int, history_scale: float, log: Log) -> LoadReport:
    """The demo history at ``history_scale``, then bulk events until ``total`` are stored.

    A database loaded before keeps its events: only what is missing is added.
    """
    started = time.monotonic()
    history = write_history(engine, days=DAYS, scale=history_scale)
    history_s = time.monotonic() - started
    log(f"demo history: {history.written:,} new events in {history_s:.0f} s")
    stored = count_events(engine)
    missing = max(0, total - stored)
    log(f"{stored:,} events stored; bulk load of {missing:,} more")
    started = time.monotonic()
    bulk = write_bulk(engine, missing, dt.datetime.now(dt.UTC), log) if missing else 0
    bulk_s = time.monotonic() - started
    return LoadReport(history.written, bulk, count_events(engine), history_s, bulk_s)


def analyze(engine: Engine) -> None:
    """Fresh planner statistics after the load, as autovacuum would give them in time."""
    with engine.begin() as connection:
        connection.execute(text("ANALYZE events, rollup_1m, rollup_1h, rollup_1d"))


@dataclass(frozen=True, slots=True)
class Account:
    email: str
    scope: str
    """The key of the one org unit whose subtree the user sees."""


def make_accounts(engine: Engine, prefix: str, scopes: Sequence[str], count: int) -> list[Account]:
    """``count`` executives ``<prefix>-NNN@example.com`` with scopes taken from ``scopes`` in
    turn, password :data:`PASSWORD`; accounts that exist already are kept."""
    accounts = [
        Account(f"{prefix}-{n:03d}@example.com", scopes[n % len(scopes)]) for n in range(count)
    ]
    with Session(engine) as session, session.begin():
        for account in accounts:
            if find_user(session, account.email) is None:
                name = f"Bench {account.scope} {account.email.split('@')[0]}"
                spec = UserSpec(account.email, name, ("executive",), (account.scope,))
                create_user(session, spec, PASSWORD, ACTOR)
    return accounts


USER_SCOPES = (COMPANY_KEY, *(r.key for r in REGIONS))
"""Simulated users: one global executive in four, the others regional (EMEA, Americas, APAC)."""


def subtree(scope: str, *, with_business_units: bool) -> list[str]:
    """``scope`` and its descendants, top first; without business units it is what the
    Overview's scope selector offers (the page descends only while above country level)."""
    children: dict[str, list[str]] = {}
    for unit in org_units():
        if unit.parent_key is not None and (
            with_business_units or unit.level is not OrgLevel.BUSINESS_UNIT
        ):
            children.setdefault(unit.parent_key, []).append(unit.key)
    found, todo = [], [scope]
    while todo:
        key = todo.pop(0)
        found.append(key)
        todo += children.get(key, [])
    return found
