"""The data the browser tests look at: the demo organisation, two executives, a week of events.

The demo catalogue (``ingest.demo.catalog``: group → EMEA/Americas/Asia-Pacific → countries →
business units, four sources, seven KPIs) is seeded without demo mode, then two executives with
a known password are added. History comes from the demo generator at a small scale, written
through ``write_events`` like the real pipeline:

- every source up to the last full hour before ``now - 1 h``, so the support-ticket feed
  (freshness SLA 30 min) is always late: its KPIs' quality badge is "failing" with a reason;
- orders and web sessions also for the last hour up to ``now``, plus one event of each in every
  business unit a second ago, so their KPIs' badge is "Data OK" and every unit's lineage says
  "Fresh" for as long as a test runs (SLA 5 and 2 min).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dashboard.executive import selectors
from dashboard.executive.tiles import format_value
from ingest.demo.catalog import COMPANY_KEY, REGIONAL_EXECUTIVE_REGION
from ingest.demo.generator import floor_hour
from ingest.demo.history import demo_generator, write_history
from ingest.demo.seed import seed_demo
from models.accounts import UserSpec, create_user
from models.audit import Actor
from models.catalog import org_unit_ids_by_key, source_ids_by_key
from models.queries.executive.definitions import load_kpi
from models.queries.executive.numbers import kpi_value
from models.queries.principals import load_principal
from models.settings import Settings
from models.writes import EventRow, write_events

PASSWORD = "e2e correct horse battery staple"
GLOBAL_EXECUTIVE = "grace.e2e@example.com"
REGIONAL_EXECUTIVE = "elena.e2e@example.com"
HISTORY_DAYS = 15
"""Enough for "Last 7 days" and the week before it, which tiles compare it with."""
SCALE = 0.2
"""About 2,400 events a day: realistic tiles in a few seconds of seeding."""
LIVE_SOURCES = ("orders", "web_sessions")
ACTOR = Actor("system:e2e-tests")
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class World:
    engine: Engine
    user_ids: dict[str, int]
    now: dt.datetime

    def tile_value(
        self, email: str, kpi_key: str, unit_key: str, period_key: str, at: dt.datetime
    ) -> str:
        """The value a tile computed at ``at`` must show, read through the query layer as
        ``email``."""
        period = selectors.period_for(selectors.period_choice(period_key), at)
        with self.engine.connect() as connection:
            principal = load_principal(connection, self.user_ids[email])
            kpi = load_kpi(connection, principal, kpi_key)
            value = kpi_value(connection, principal, kpi, unit_key, period)
        return format_value(value.value, kpi.format, kpi.unit)


def build_world(engine: Engine, settings: Settings) -> World:
    """Seed the catalogue, the two executives and the events; ``engine`` holds empty tables."""
    now = dt.datetime.now(dt.UTC)
    seed_demo(engine, settings)
    with Session(engine) as session, session.begin():
        specs = (
            UserSpec(GLOBAL_EXECUTIVE, "Grace E2E", ("executive",), (COMPANY_KEY,)),
            UserSpec(REGIONAL_EXECUTIVE, "Elena E2E", ("executive",), (REGIONAL_EXECUTIVE_REGION,)),
        )
        user_ids = {spec.email: create_user(session, spec, PASSWORD, ACTOR).id for spec in specs}
    write_history(engine, days=HISTORY_DAYS, scale=SCALE, now=now - dt.timedelta(hours=1))
    write_events(engine, live_events(engine, now))
    return World(engine, user_ids, now)


def live_events(engine: Engine, now: dt.datetime) -> list[EventRow]:
    """Orders and web sessions from where the history stops up to ``now``, and one of each
    in every business unit stamped a second before ``now``."""
    with Session(engine) as session:
        sources, units = source_ids_by_key(session), org_unit_ids_by_key(session)
    generator = demo_generator(scale=SCALE)
    start = floor_hour(now - dt.timedelta(hours=1))
    rows = []
    for key in LIVE_SOURCES:
        events = list(generator.events(key, start, now))
        template = events[-1] if events else next(generator.events(key, start - _DAY, start))
        newest = [
            template._replace(
                event_id=f"{template.event_id}-e2e-{unit.key}",
                unit_key=unit.key,
                ts=now - dt.timedelta(seconds=1),
            )
            for unit in generator.units
        ]
        for event in [*events, *newest]:
            rows.append(
                EventRow(
                    event.ts,
                    sources[key],
                    event.event_id,
                    units[event.unit_key],
                    event.measures,
                    event.dims,
                    event.attrs,
                )
            )
    return rows
