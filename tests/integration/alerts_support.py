"""Support of the alert tests: the quality world (``quality_support``) with a regional
executive, orders written at chosen moments, rules made through the audited write, and
evaluations on a clock the test moves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest.alerts.evaluate import EvaluationReport, evaluate
from models.alerts.rules import create_rule
from models.alerts.spec import RuleSpec
from models.alerts.tables import AlertSeverity, Condition
from models.permissions import Principal
from models.queries.principals import load_principal
from models.settings import Settings
from models.writes import EventRow, write_events

from .quality_support import ORDERS, UNIT2, UNIT3, World, make_world

REGIONAL_EXEC = 6
"""Rob, an executive of unit 2 (Rita, user 5, is a steward of unit 3)."""
NOW = dt.datetime(2026, 3, 2, 10, 0, 10, tzinfo=dt.UTC)
"""An evaluation moment; the 1-hour window before it is 09:00-10:00."""


def make_alert_world(db: Engine) -> World:
    """:func:`quality_support.make_world`, Rob (executive of unit 2) and a revenue target."""
    world = make_world(db)
    with db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, display_name) "
                "VALUES (:id, 'rob@example.com', 'Rob Regional')"
            ),
            {"id": REGIONAL_EXEC},
        )
        connection.execute(
            text(
                "INSERT INTO user_roles (user_id, role_id) "
                "SELECT :u, id FROM roles WHERE key = 'executive'"
            ),
            {"u": REGIONAL_EXEC},
        )
        connection.execute(
            text("INSERT INTO user_scopes (user_id, org_unit_id) VALUES (:u, :o)"),
            {"u": REGIONAL_EXEC, "o": UNIT2},
        )
        connection.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), 100, false)"))
        connection.execute(text("UPDATE kpis SET target = 2400 WHERE key = 'revenue'"))
    return world


def orders(db: Engine, at: dt.datetime, amount: float, *, unit: int = UNIT2, tag: str = "") -> None:
    """One order of ``amount`` at ``at`` (revenue is sum(orders.amount))."""
    write_events(
        db,
        [
            EventRow(
                ts=at,
                source_id=ORDERS,
                event_id=f"{tag}{unit}-{at:%Y%m%d%H%M%S%f}",
                org_unit_id=unit,
                measures={"amount": amount, "qty": 1.0},
            )
        ],
    )


def hourly_orders(
    db: Engine, start: dt.datetime, amounts: list[float], *, unit: int = UNIT2
) -> None:
    """One order in each hour from ``start``, of the given amounts (one write)."""
    rows = [
        EventRow(
            ts=start + dt.timedelta(hours=n, minutes=30),
            source_id=ORDERS,
            event_id=f"h{unit}-{n}",
            org_unit_id=unit,
            measures={"amount": amount, "qty": 1.0},
        )
        for n, amount in enumerate(amounts)
    ]
    write_events(db, rows)


def principal(db: Engine, user_id: int) -> Principal:
    with db.connect() as connection:
        return load_principal(connection, user_id)


def rule_spec(**changes: Any) -> RuleSpec:
    """Revenue of unit 2 above 100 over the last hour, at once, warning; in-app only."""
    base: dict[str, Any] = {
        "name": "Revenue spike",
        "kpi_key": "revenue",
        "unit_key": "unit2",
        "condition": Condition.ABOVE,
        "threshold": 100.0,
        "clear_threshold": None,
        "for_s": 0,
        "window_s": 3600,
        "severity": AlertSeverity.WARNING,
    }
    return RuleSpec(**{**base, **changes})


def add_rule(db: Engine, by: Principal, now: dt.datetime = NOW, **changes: Any) -> int:
    with Session(db) as session, session.begin():
        return create_rule(session, by, rule_spec(**changes), now - dt.timedelta(days=1))


def run(db: Engine, settings: Settings, now: dt.datetime) -> EvaluationReport:
    return evaluate(db, settings, now)


def one(db: Engine, sql: str, params: dict[str, Any] | None = None) -> Any:
    with db.connect() as connection:
        return connection.execute(text(sql), params or {}).scalar_one()


def state_of(db: Engine, rule_id: int) -> str:
    return str(
        one(db, "SELECT CAST(state AS text) FROM alert_states WHERE rule_id = :r", {"r": rule_id})
    )


def notified(db: Engine, kind: str) -> set[int]:
    with db.connect() as connection:
        rows = connection.execute(
            text("SELECT user_id FROM notifications WHERE kind = :k"), {"k": kind}
        )
        return {int(r[0]) for r in rows}


__all__ = ["UNIT2", "UNIT3"]
