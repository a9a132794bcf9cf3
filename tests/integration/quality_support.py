"""Support for the data-quality tests: a catalogue with KPIs and people, events by window, and
running check cycles on a clock the test moves."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, text

from ingest.quality import runner
from ingest.quality.context import Thresholds
from models.permissions import ROLE_PERMISSIONS, Principal
from models.quality.escalation import EscalationPolicy
from models.quality.tables import CheckKey, Severity
from models.quality.windows import WINDOW, Window
from models.queries.principals import load_principal
from models.queries.steward.incidents import RESULT_COLUMNS, ResultView, result_view
from models.settings import Settings
from models.writes import EventRow, write_events

from .factories import Catalog, make_catalog

ORDERS, TICKETS = 1, 2
"""Source ids of ``make_catalog``; both are owned by the root unit (1)."""
UNIT2, UNIT3 = 2, 3
NOW = dt.datetime(2026, 3, 2, 10, 20, tzinfo=dt.UTC)
"""A Monday; the settled window at NOW (2 minutes' settling) is 10:00-10:15."""
JUDGED = Window(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), NOW - dt.timedelta(minutes=5))

KPIS = {
    "revenue": ("Revenue", "sum(orders.amount)", (3,)),
    "ticket_minutes": ("Ticket minutes", "sum(tickets.minutes)", (5,)),
    "minutes_per_item": ("Minutes per item", "sum(tickets.minutes) / sum(orders.qty)", (4, 5)),
}
"""KPI key: name, formula, metric ids (orders.amount 3, orders.qty 4, tickets.minutes 5)."""


@dataclass(frozen=True)
class People:
    steward: int
    """Sam, the orders source's steward (role steward, scope: everything)."""
    colleague: int
    """Uma, another steward of the root unit."""
    executive: int
    admin: int
    regional: int
    """Rita, a steward whose scope is unit 3 only."""


USERS = (
    (1, "sam@example.com", "Sam Steward", "steward", 1),
    (2, "uma@example.com", "Uma Unit", "steward", 1),
    (3, "eve@example.com", "Eve Executive", "executive", 1),
    (4, "ada@example.com", "Ada Admin", "admin", 1),
    (5, "rita@example.com", "Rita Regional", "steward", UNIT3),
)
PEOPLE = People(steward=1, colleague=2, executive=3, admin=4, regional=5)


@dataclass(frozen=True)
class World:
    catalog: Catalog
    people: People

    def principal(self, db: Engine, user_id: int) -> Principal:
        with db.connect() as connection:
            return load_principal(connection, user_id)


def make_world(db: Engine) -> World:
    """Two sources (orders with steward Sam, SLA 5 min; tickets, SLA 1 h), three KPIs, the
    default roles and five users."""
    catalog = make_catalog(db, children=2)
    with db.begin() as connection:
        for role_id, (key, permissions) in enumerate(ROLE_PERMISSIONS.items(), start=1):
            connection.execute(
                text("INSERT INTO roles (id, key, name, builtin) VALUES (:id, :key, :name, true)"),
                {"id": role_id, "key": key, "name": key.title()},
            )
            for permission in sorted(permissions):
                connection.execute(
                    text("INSERT INTO role_permissions VALUES (:role, CAST(:p AS permission))"),
                    {"role": role_id, "p": permission.value},
                )
        role_ids = {key: n for n, key in enumerate(ROLE_PERMISSIONS, start=1)}
        for user_id, email, name, role, unit in USERS:
            connection.execute(
                text("INSERT INTO users (id, email, display_name) VALUES (:id, :email, :name)"),
                {"id": user_id, "email": email, "name": name},
            )
            connection.execute(
                text("INSERT INTO user_roles (user_id, role_id) VALUES (:u, :r)"),
                {"u": user_id, "r": role_ids[role]},
            )
            connection.execute(
                text("INSERT INTO user_scopes (user_id, org_unit_id) VALUES (:u, :o)"),
                {"u": user_id, "o": unit},
            )
        for kpi_id, (key, (name, formula, metrics)) in enumerate(KPIS.items(), start=1):
            connection.execute(
                text(
                    "INSERT INTO kpis (id, key, name, owner_unit_id, formula) "
                    "VALUES (:id, :key, :name, 1, :formula)"
                ),
                {"id": kpi_id, "key": key, "name": name, "formula": formula},
            )
            for metric_id in metrics:
                connection.execute(
                    text("INSERT INTO kpi_metrics VALUES (:k, :m)"), {"k": kpi_id, "m": metric_id}
                )
        connection.execute(text("UPDATE sources SET steward_id = 1 WHERE id = :id"), {"id": ORDERS})
        connection.execute(
            text("UPDATE sources SET freshness_sla_s = 3600 WHERE id = :id"), {"id": TICKETS}
        )
        for table in ("users", "roles", "kpis"):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) + 1 FROM {table}), false)"
                )
            )
    return World(catalog, PEOPLE)


@pytest.fixture
def world(db: Engine) -> World:
    return make_world(db)


# --- events --------------------------------------------------------------------------------

_MEASURES = {ORDERS: {"amount": 10.0, "qty": 1.0}, TICKETS: {"minutes": 5.0}}


def spread(
    source_id: int, window: Window, n: int, *, unit: int = UNIT2, tag: str = ""
) -> list[EventRow]:
    """``n`` events of ``source_id`` spread evenly over ``window``."""
    step = (window.end - window.start) / max(n, 1)
    return [
        EventRow(
            ts=window.start + step * i,
            source_id=source_id,
            event_id=f"{tag}{window.start:%Y%m%d%H%M}-{i}",
            org_unit_id=unit,
            measures=_MEASURES[source_id],
        )
        for i in range(n)
    ]


def write_window(db: Engine, source_id: int, window: Window, n: int, **kw: Any) -> None:
    write_events(db, spread(source_id, window, n, **kw))


def weeks_before(window: Window, k: int) -> Window:
    return window.shifted(-dt.timedelta(weeks=k))


def window_starting(start: dt.datetime) -> Window:
    return Window(start, start + WINDOW)


# --- cycles --------------------------------------------------------------------------------


def thresholds(settings: Settings, **overrides: Any) -> Thresholds:
    return dataclasses.replace(Thresholds.from_settings(settings), **overrides)


CRITICAL_AFTER = dt.timedelta(minutes=15)
WARNING_AFTER = dt.timedelta(minutes=60)
LADDER = {Severity.CRITICAL: CRITICAL_AFTER, Severity.WARNING: WARNING_AFTER}


def run(
    db: Engine,
    settings: Settings,
    now: dt.datetime,
    *,
    auto_resolve: bool = False,
    policy: EscalationPolicy | None = None,
    **overrides: Any,
) -> runner.CycleReport:
    """One check cycle at ``now`` with the default thresholds (or ``overrides``), escalating
    by :data:`LADDER` unless another ``policy`` is given."""
    return runner.run_cycle(
        db,
        settings,
        now,
        thresholds=thresholds(settings, **overrides),
        policy=policy or EscalationPolicy(dict(LADDER), auto_resolve=auto_resolve),
    )


def latest(db: Engine, source_id: int, check: CheckKey) -> ResultView:
    """The newest result of ``check`` on the source."""
    with db.connect() as connection:
        row = connection.execute(
            text(
                f"SELECT {RESULT_COLUMNS} FROM dq_results r JOIN dq_checks c ON c.id = r.check_id "
                "WHERE r.source_id = :s AND c.key = :c ORDER BY r.at DESC, r.id DESC LIMIT 1"
            ),
            {"s": source_id, "c": check.value},
        ).one()
    return result_view(row)


def rows(db: Engine, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    with db.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(text(sql), dict(params or {}))]


def count(db: Engine, table: str) -> int:
    with db.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
