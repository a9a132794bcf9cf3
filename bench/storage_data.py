"""Benchmark data: a demo-like organisation, sources and KPI, and a generator of their events."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.enums import OrgLevel, RefreshMode
from models.kpis import Kpi
from models.org import OrgUnit
from models.sources import Metric, Source
from models.writes import EventRow

REVENUE_KPI = "bench_revenue"
LIVE_RATE_PER_S = 1000  # events per second of the simulated live stream
# source key -> (measures with value generators, share of events)
SOURCES: dict[str, tuple[dict[str, Callable[[random.Random], float]], float]] = {
    "orders": (
        {
            "amount": lambda r: round(r.lognormvariate(4, 0.8), 2),
            "items": lambda r: float(r.randint(1, 6)),
            "discount": lambda r: round(r.random() * 20, 2),
        },
        0.35,
    ),
    "web_sessions": (
        {
            "duration_s": lambda r: round(r.expovariate(1 / 180), 1),
            "pages": lambda r: float(r.randint(1, 12)),
        },
        0.45,
    ),
    "support_tickets": ({"resolution_h": lambda r: round(r.expovariate(1 / 20), 2)}, 0.15),
    "marketing_spend": (
        {
            "spend": lambda r: round(r.uniform(50, 5000), 2),
            "clicks": lambda r: float(r.randint(0, 900)),
            "impressions": lambda r: float(r.randint(1000, 90000)),
        },
        0.05,
    ),
}
CHANNELS = ("web", "app", "store", "partner")
DEVICES = ("desktop", "mobile", "tablet")
CATEGORIES = ("books", "garden", "electronics", "toys", "grocery", "fashion")


@dataclass(frozen=True)
class World:
    """The ids the generator needs: business units and sources, and the top unit."""

    company_id: int
    company_path: str
    units: list[int]
    sources: list[tuple[int, str]]
    metric_count: int
    unit_count: int


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _unit(session: Session, key: str, level: OrgLevel, parent: OrgUnit | None) -> OrgUnit:
    found = session.scalar(select(OrgUnit).where(OrgUnit.key == key))
    if found is not None:
        return found
    # The path holds the unit's own id, known only after the insert: a unique placeholder first.
    parent_id = parent.id if parent else None
    unit = OrgUnit(key=key, name=key, level=level, parent_id=parent_id, path=uuid.uuid4().hex)
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path}.{unit.id}" if parent else str(unit.id)
    session.flush()
    return unit


def _source(session: Session, key: str, measures: Iterable[str], owner: OrgUnit) -> int:
    found = session.scalar(select(Source.id).where(Source.key == f"bench_{key}"))
    if found is not None:
        return found
    source = Source(
        key=f"bench_{key}",
        name=key,
        owner_unit_id=owner.id,
        refresh_mode=RefreshMode.STREAMING,
        freshness_sla_s=300,
    )
    session.add(source)
    session.flush()
    for measure in [None, *measures]:
        metric_key = f"bench_{key}.{measure}" if measure else f"bench_{key}"
        session.add(
            Metric(key=metric_key, source_id=source.id, measure=measure, name=measure or "count")
        )
    return source.id


def build_world(engine: Engine) -> World:
    """Create (once) 1 company, 3 regions, 8 countries, 24 units, 4 sources and a KPI."""
    with Session(engine) as session, session.begin():
        company = _unit(session, "bench-co", OrgLevel.COMPANY, None)
        regions = [_unit(session, f"bench-r{i}", OrgLevel.REGION, company) for i in range(3)]
        countries = [
            _unit(session, f"bench-c{i}", OrgLevel.COUNTRY, regions[i % 3]) for i in range(8)
        ]
        units = [
            _unit(session, f"bench-bu{i}", OrgLevel.BUSINESS_UNIT, countries[i % 8])
            for i in range(24)
        ]
        sources = [(_source(session, key, m, company), key) for key, (m, _) in SOURCES.items()]
        if session.scalar(select(Kpi.id).where(Kpi.key == REVENUE_KPI)) is None:
            formula = "sum(bench_orders.amount)"
            session.add(
                Kpi(
                    key=REVENUE_KPI, name="Bench revenue", owner_unit_id=company.id, formula=formula
                )
            )
        metrics = sum(len(measures) + 1 for measures, _ in SOURCES.values())
        return World(company.id, company.path, [u.id for u in units], sources, metrics, 36)


class Generator:
    """Demo-like events: a few measures, dims and (PII-bearing) attrs per event."""

    def __init__(self, world: World, seed: int) -> None:
        self.rng = random.Random(seed)
        self.world = world
        keys = [key for _, key in world.sources]
        self.weights = [SOURCES[key][1] for key in keys]

    def rows(self, stamps: Sequence[dt.datetime]) -> list[EventRow]:
        rng = self.rng
        picks = rng.choices(self.world.sources, weights=self.weights, k=len(stamps))
        out = []
        for ts, (source_id, key) in zip(stamps, picks, strict=True):
            measures = {name: make(rng) for name, make in SOURCES[key][0].items()}
            customer = rng.randrange(1_000_000)
            out.append(
                EventRow(
                    ts=ts,
                    source_id=source_id,
                    event_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                    org_unit_id=rng.choice(self.world.units),
                    measures=measures,
                    dims={
                        "channel": rng.choice(CHANNELS),
                        "device": rng.choice(DEVICES),
                        "category": rng.choice(CATEGORIES),
                        "campaign": f"cmp-{rng.randrange(40)}",
                    },
                    attrs={"customer_id": f"c{customer}", "email": f"user{customer}@example.com"},
                )
            )
        return out


def live_stamps(count: int, end: dt.datetime) -> list[dt.datetime]:
    """``count`` increasing timestamps of a stream of LIVE_RATE_PER_S events ending at ``end``."""
    step = 1 / LIVE_RATE_PER_S
    start = end - dt.timedelta(seconds=count * step)
    return [start + dt.timedelta(seconds=i * step) for i in range(count)]


def backfill_stamps(rng: random.Random, count: int, end: dt.datetime) -> list[dt.datetime]:
    """``count`` timestamps spread uniformly over the 30 days before ``end``."""
    span = 30 * 86400
    return [end - dt.timedelta(seconds=rng.random() * span) for _ in range(count)]
