"""One evaluation of every active rule: read the KPI at the rule's scope through the query
layer, step the state machine, record the state and its transitions, announce what fired or
resolved and open or update reviews, all in one transaction; enqueue deliveries after it.

Every function takes ``now``: the cron job passes the wall clock, tests move it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import rq
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from ingest.alerts.effects import Effects
from ingest.alerts.machine import Snapshot, step
from ingest.alerts.measure import KpiShape, line_of, measured
from ingest.alerts.system import system_principal
from ingest.notify.dispatch import enqueue
from models.alerts.spec import is_muted
from models.alerts.states import EventRow, add_events, locked_states
from models.alerts.tables import AlertState, AlertStateRow
from models.enums import Granularity
from models.queries.alerts.rules import RuleView, rules_to_evaluate
from models.queries.common import Period, floor_to
from models.queries.executive.definitions import InvalidKpi, KpiDefinition, UnknownKpi, load_kpi
from models.queries.executive.numbers import kpi_values
from models.settings import Settings

log = logging.getLogger(__name__)
_LOCK = 0x6E73414C  # "nsAL": one evaluation at a time, across every worker


@dataclass(frozen=True, slots=True)
class Reading:
    """The KPI over the rule's window and over the window before it."""

    value: float | None
    previous: float | None
    period: Period


@dataclass
class EvaluationReport:
    """What one evaluation did; ``skipped`` when another one was running."""

    now: dt.datetime
    skipped: bool = False
    rules: int = 0
    states: dict[str, int] = field(default_factory=dict)
    fired: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    reviews_opened: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    """Rules that could not be judged (their KPI is unknown or broken); logged."""
    delivery_ids: list[int] = field(default_factory=list)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "skipped": self.skipped,
            "rules": self.rules,
            "states": dict(self.states),
            "fired": self.fired,
            "resolved": self.resolved,
            "reviews_opened": self.reviews_opened,
            "failed": self.failed,
            "deliveries": len(self.delivery_ids),
            "duration_s": round(self.duration_s, 3),
        }


def window_period(window_s: int, now: dt.datetime) -> Period:
    """The last ``window_s`` seconds of whole minutes before ``now`` (the current minute, still
    filling, is left out so a rule does not judge a part of a minute)."""
    end = floor_to(now, Granularity.MINUTE)
    return Period(end - dt.timedelta(seconds=window_s), end)


def _definitions(connection: Connection, rules: list[RuleView]) -> dict[str, KpiDefinition]:
    found = {}
    for key in sorted({r.kpi_key for r in rules}):
        try:
            found[key] = load_kpi(connection, system_principal(), key)
        except (UnknownKpi, InvalidKpi):
            log.exception("alert rules on KPI %s cannot be evaluated", key)
    return found


def read_values(
    connection: Connection,
    rules: list[RuleView],
    kpis: dict[str, KpiDefinition],
    now: dt.datetime,
) -> dict[int, Reading]:
    """Each rule's reading, with one :func:`kpi_values` call (two queries) per unit and window,
    as a principal that sees the rule's unit and nothing else."""
    groups: dict[tuple[int, str, int], list[RuleView]] = defaultdict(list)
    for rule in rules:
        if rule.kpi_key in kpis:
            groups[(rule.unit_id, rule.unit_path, rule.window_s)].append(rule)
    readings = {}
    for (unit_id, path, window_s), members in groups.items():
        chosen = list({r.kpi_key: kpis[r.kpi_key] for r in members}.values())
        period = window_period(window_s, now)
        values = kpi_values(connection, system_principal(path), chosen, unit_id, period)
        by_key = {v.kpi_key: v for v in values}
        for rule in members:
            found = by_key[rule.kpi_key]
            readings[rule.id] = Reading(found.value, found.previous_value, period)
    return readings


def evaluate(
    engine: Engine, settings: Settings, now: dt.datetime, *, queue: rq.Queue | None = None
) -> EvaluationReport:
    """Judge every active rule at ``now`` and act on what changed (see the module); when
    ``queue`` is given, enqueue the deliveries on it after the commit."""
    started = time.perf_counter()
    report = EvaluationReport(now)
    with Session(engine) as session, session.begin():
        connection = session.connection()
        locked = connection.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK})
        if not locked.scalar_one():
            report.skipped = True
            return report
        rules = rules_to_evaluate(connection)
        kpis = _definitions(connection, rules)
        readings = read_values(connection, rules, kpis, now)
        states = locked_states(session, [r.id for r in rules], now)
        effects = Effects(session, settings, now)
        for rule in rules:
            reading, kpi = readings.get(rule.id), kpis.get(rule.kpi_key)
            if reading is None or kpi is None:
                report.failed.append(rule.id)
                continue
            judge(session, effects, rule, kpi, reading, states[rule.id], now, report)
        report.rules = len(rules)
        report.states = dict(Counter(s.state.value for s in states.values()))
        report.delivery_ids = effects.delivery_ids
        report.reviews_opened = effects.reviews_opened
    if queue is not None:
        enqueue(queue, report.delivery_ids)
    report.duration_s = time.perf_counter() - started
    return report


def judge(
    session: Session,
    effects: Effects,
    rule: RuleView,
    kpi: KpiDefinition,
    reading: Reading,
    row: AlertStateRow,
    now: dt.datetime,
    report: EvaluationReport,
) -> None:
    """Step one rule's machine, record it, and announce a firing not yet announced (also one
    that fired while muted, once the mute ends) and the resolution of an announced one."""
    line = line_of(rule)
    shape = KpiShape(kpi.target, kpi.formula.is_additive)
    value = measured(line, shape, reading.value, reading.previous, reading.period.length)
    made = step(Snapshot(row.state, row.since), value, line.levels, line.hold, now)
    muted = is_muted(rule.mute_from, rule.mute_until, now)
    detail = {
        "kpi_value": reading.value,
        "previous_value": reading.previous,
        "window": [reading.period.start.isoformat(), reading.period.end.isoformat()],
    }
    add_events(
        session,
        [
            EventRow(
                rule.id,
                t.at,
                t.from_state,
                t.to_state,
                value,
                line.levels.fire,
                line.levels.clear,
                muted,
                detail,
            )
            for t in made.transitions
        ],
    )
    row.state, row.since = made.now.state, made.now.since
    row.last_value, row.last_evaluated_at = value, now
    if made.fired:
        report.fired.append(rule.id)
    if made.resolved:
        report.resolved.append(rule.id)
        if row.notified_at is not None and not muted:
            effects.resolved(rule, kpi, value)
        row.notified_at = None
    if row.state is AlertState.FIRING and row.notified_at is None and not muted:
        effects.firing(rule, kpi, value, (reading.value, reading.previous))
        row.notified_at = now
