"""The alert scenarios' additions to the browser tests' world: an admin (the only role holding
``alert:manage``), a rule that fires on the seeded revenue, the evaluation the cron job runs,
and the preview the editor must show, computed through the same layers.

The pages' clock (``live.utc_now``) is fixed by the tests (:class:`Clock`): the live server
runs in the test's process, so the rule editor's 30-day preview can be recomputed for the very
same minute, and the KPI page's review list (cached for the minute, see
``dashboard.alerts.review_marks``) can be read again a minute later without waiting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.alerts.evaluate import EvaluationReport, evaluate
from ingest.alerts.measure import Line
from ingest.alerts.preview import preview
from ingest.demo.catalog import COMPANY_KEY
from ingest.demo.history import demo_generator
from models.accounts import UserSpec, create_user
from models.alerts.rules import create_rule
from models.alerts.spec import RuleSpec
from models.alerts.tables import AlertSeverity, Condition
from models.catalog import org_unit_ids_by_key, source_ids_by_key
from models.queries.executive.definitions import load_kpi
from models.queries.principals import load_principal
from models.settings import Settings
from models.writes import EventRow, write_events

from .world import ACTOR, PASSWORD, SCALE, World

ADMIN, ADMIN_NAME = "ada.alerts@example.com", "Ada Alerts"
FIRING_UNIT, FIRING_UNIT_NAME = "emea", "EMEA"
FIRING_RULE = "EMEA revenue watch"
THRESHOLD, BIG_ORDER, BIG_ORDER_UNIT = 1000.0, 5000.0, "de-online"


@dataclass
class Clock:
    """The pages' clock, moved only by the test."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


def add_admin(world: World) -> int:
    """Ada: the admin role (every permission, alert:manage included) over the whole group."""
    with Session(world.engine) as session, session.begin():
        spec = UserSpec(ADMIN, ADMIN_NAME, ("admin",), (COMPANY_KEY,))
        user_id = create_user(session, spec, PASSWORD, ACTOR).id
    world.user_ids[ADMIN] = user_id
    return user_id


def add_big_order(world: World, at: dt.datetime) -> None:
    """One order of ``BIG_ORDER`` EUR in Germany's online shop at ``at``: the seeded orders
    follow local time of day (EMEA's night has none), this one crosses the rule at any hour."""
    with Session(world.engine) as session:
        source = source_ids_by_key(session)["orders"]
        unit = org_unit_ids_by_key(session)[BIG_ORDER_UNIT]
    generator = demo_generator(scale=SCALE)
    template = next(generator.events("orders", at - dt.timedelta(days=1), at))
    measures = {**template.measures, "amount": BIG_ORDER}
    event = EventRow(at, source, "e2e-alerts-big-order", unit, measures, template.dims, {})
    write_events(world.engine, [event])


def add_firing_rule(world: World, owner: int, now: dt.datetime) -> int:
    """Revenue above ``THRESHOLD`` over the last hour at EMEA, at once: with
    :func:`add_big_order` the next evaluation fires it and opens a review owned by ``owner``."""
    spec = RuleSpec(
        name=FIRING_RULE,
        kpi_key="revenue",
        unit_key=FIRING_UNIT,
        condition=Condition.ABOVE,
        threshold=THRESHOLD,
        clear_threshold=None,
        for_s=0,
        window_s=3600,
        severity=AlertSeverity.CRITICAL,
        owner_user_id=owner,
    )
    with Session(world.engine) as session, session.begin():
        principal = load_principal(session.connection(), owner)
        return create_rule(session, principal, spec, now)


def run_evaluation(world: World, settings: Settings, now: dt.datetime) -> EvaluationReport:
    """What ``ingest.alerts.jobs.evaluate_alerts`` (the cron job) does, at ``now`` and without
    a delivery queue (the deliveries are not what these tests look at)."""
    return evaluate(world.engine, settings, now)


def preview_text(world: World, email: str, spec: RuleSpec, now: dt.datetime) -> str:
    """The sentence the editor's "Preview the last 30 days" must show for ``spec`` at ``now``."""
    line = Line(spec.condition, spec.threshold, spec.clear_threshold, spec.for_s, spec.window_s)
    with world.engine.connect() as connection:
        principal = load_principal(connection, world.user_ids[email])
        kpi = load_kpi(connection, principal, spec.kpi_key)
        unit = connection.execute(
            text("SELECT id FROM org_units WHERE key = :k"), {"k": spec.unit_key}
        ).scalar_one()
        replayed = preview(connection, principal, line, kpi, unit, now)
    times = "time" if replayed.fired == 1 else "times"
    now_text = " It would be firing now." if replayed.firing_at_end else ""
    return (
        f"Would have fired {replayed.fired} {times} in the last 30 days "
        f"(replayed by {replayed.granularity.value}).{now_text}"
    )
