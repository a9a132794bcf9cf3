"""Alert evaluation on real PostgreSQL, on a clock the test moves: the state machine through
the query layer, history, notices that follow scope, mute, and the reviews a firing opens."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from integration.alerts_support import (
    NOW,
    REGIONAL_EXEC,
    add_rule,
    make_alert_world,
    notified,
    one,
    orders,
    principal,
    rule_spec,
    run,
    state_of,
)
from integration.quality_support import PEOPLE, UNIT3, World, rows
from models.alerts.rules import update_rule
from models.alerts.tables import AlertSeverity, Condition
from models.settings import Settings

S = dt.timedelta(seconds=1)
MIN = dt.timedelta(minutes=1)
SCOPE_OF_UNIT2 = {PEOPLE.steward, PEOPLE.colleague, PEOPLE.executive, PEOPLE.admin, REGIONAL_EXEC}
"""Everyone holding kpi:view whose scope covers unit 2; Rita (unit 3 only) is not among them."""


@pytest.fixture
def world(db: Engine) -> World:
    return make_alert_world(db)


def transitions(db: Engine, rule_id: int) -> list[tuple[str, str, float | None]]:
    found = rows(
        db,
        "SELECT CAST(from_state AS text) AS a, CAST(to_state AS text) AS b, value "
        "FROM alert_events WHERE rule_id = :r ORDER BY at, id",
        {"r": rule_id},
    )
    return [(r["a"], r["b"], r["value"]) for r in found]


def test_pending_then_firing_after_the_duration_then_no_flapping_then_resolved(
    world: World, db: Engine, settings: Settings
) -> None:
    admin = principal(db, PEOPLE.admin)
    rule = add_rule(db, admin, for_s=60, clear_threshold=80.0)
    orders(db, NOW - 30 * MIN, 150.0)  # 09:30: the hour's revenue is 150, above 100

    run(db, settings, NOW)
    assert state_of(db, rule) == "pending"
    run(db, settings, NOW + 30 * S)
    assert state_of(db, rule) == "pending"  # held 30 s of the 60 s
    assert notified(db, "alert.firing") == set()
    run(db, settings, NOW + 60 * S)
    assert state_of(db, rule) == "firing"
    assert notified(db, "alert.firing") == SCOPE_OF_UNIT2

    # 10:15 an order of 90: at 10:31 the 09:30 order left the window, 90 is in the band
    orders(db, NOW + 15 * MIN, 90.0)
    for minutes in (31, 32, 40):
        run(db, settings, NOW + minutes * MIN)
        assert state_of(db, rule) == "firing"
    # at 11:16 the window is empty: 0 is past the clear level
    run(db, settings, NOW + 76 * MIN)
    assert state_of(db, rule) == "resolved"
    assert notified(db, "alert.resolved") == SCOPE_OF_UNIT2
    run(db, settings, NOW + 77 * MIN)  # stayed clear for the duration
    assert state_of(db, rule) == "ok"

    assert transitions(db, rule) == [
        ("ok", "pending", 150.0),
        ("pending", "firing", 150.0),
        ("firing", "resolved", 0.0),
        ("resolved", "ok", 0.0),
    ]
    assert one(db, "SELECT count(*) FROM notifications WHERE kind = 'alert.firing'") == 5


def test_notices_follow_the_scope_of_the_rule_and_of_each_user(
    world: World, db: Engine, settings: Settings
) -> None:
    admin = principal(db, PEOPLE.admin)
    with db.begin() as connection:
        channel = connection.execute(
            text(
                "INSERT INTO notification_channels (name, kind, url, secret) "
                "VALUES ('ops', 'json', 'https://hooks.example.com/x', 's3cret') RETURNING id"
            )
        ).scalar_one()
    on_unit2 = add_rule(db, admin, notify_email=True, channel_ids=(channel,))
    on_unit3 = add_rule(db, admin, name="Unit 3", unit_key="unit3")
    orders(db, NOW - 30 * MIN, 150.0)
    orders(db, NOW - 20 * MIN, 150.0, unit=UNIT3)

    report = run(db, settings, NOW)

    assert sorted(report.fired) == [on_unit2, on_unit3]
    by_user = rows(
        db,
        "SELECT user_id, link FROM notifications WHERE kind = 'alert.firing' ORDER BY user_id",
    )
    unit2_link, unit3_link = "/kpi/revenue?unit=unit2", "/kpi/revenue?unit=unit3"
    assert {r["user_id"] for r in by_user if r["link"] == unit2_link} == SCOPE_OF_UNIT2
    # Rita (unit 3) hears of unit 3 only; Rob (unit 2) of unit 2 only
    assert {r["user_id"] for r in by_user if r["link"] == unit3_link} == (
        SCOPE_OF_UNIT2 - {REGIONAL_EXEC} | {PEOPLE.regional}
    )
    assert PEOPLE.regional not in {r["user_id"] for r in by_user if r["link"] == unit2_link}
    deliveries = rows(
        db,
        "SELECT user_id, channel_id, kind FROM notification_deliveries ORDER BY id",
    )
    assert {d["user_id"] for d in deliveries if d["user_id"]} == SCOPE_OF_UNIT2  # e-mail
    assert [d["channel_id"] for d in deliveries if d["channel_id"]] == [channel]
    assert {d["kind"] for d in deliveries} == {"alert.firing"}


def test_a_muted_rule_records_its_states_and_is_announced_once_the_mute_ends(
    world: World, db: Engine, settings: Settings
) -> None:
    admin = principal(db, PEOPLE.admin)
    rule = add_rule(db, admin, mute_until=NOW + 10 * MIN)
    orders(db, NOW - 30 * MIN, 150.0)
    orders(db, NOW + 5 * MIN, 150.0)  # still firing after the mute

    run(db, settings, NOW)
    assert state_of(db, rule) == "firing"
    assert one(db, "SELECT bool_and(muted) FROM alert_events WHERE rule_id = :r", {"r": rule})
    assert notified(db, "alert.firing") == set()
    assert one(db, "SELECT count(*) FROM reviews") == 0

    run(db, settings, NOW + 11 * MIN)
    assert notified(db, "alert.firing") == SCOPE_OF_UNIT2
    assert one(db, "SELECT count(*) FROM reviews") == 1


def test_a_firing_of_enough_severity_opens_one_review_and_repeats_update_it(
    world: World, db: Engine, settings: Settings
) -> None:
    admin = principal(db, PEOPLE.admin)
    rule = add_rule(db, admin)
    quiet = add_rule(db, admin, name="Info only", severity=AlertSeverity.INFO)
    orders(db, NOW - 30 * MIN, 150.0)

    run(db, settings, NOW)  # fires
    run(db, settings, NOW + 31 * MIN)  # the order left the window: resolved
    orders(db, NOW + 40 * MIN, 200.0)
    run(db, settings, NOW + 41 * MIN)  # fires again

    reviews = rows(db, "SELECT * FROM reviews ORDER BY id")
    assert [r["rule_id"] for r in reviews] == [rule]  # severity info opens none
    review = reviews[0]
    assert review["occurrences"] == 2
    assert review["state"] == "open"
    assert review["title"] == "Revenue above 100.00 at UNIT2"
    assert review["owner_user_id"] is None  # no rule owner and no KPI steward
    assert review["due_at"] == NOW + dt.timedelta(days=settings.review_due_days)
    evidence = review["evidence"]
    assert evidence["value"] == 200.0
    assert evidence["threshold"] == 100.0
    assert [v for _, v in evidence["series"] if v] == [150.0, 200.0]
    assert evidence["lines"] == [{"name": "Alert level", "value": 100.0}]
    kinds = rows(db, "SELECT CAST(kind AS text) AS k FROM review_events ORDER BY id")
    assert [k["k"] for k in kinds] == ["opened", "updated"]
    assert state_of(db, quiet) == "firing"


def test_the_review_belongs_to_the_rule_owner_else_the_kpi_steward_within_scope(
    world: World, db: Engine, settings: Settings
) -> None:
    admin = principal(db, PEOPLE.admin)
    owned = add_rule(db, admin, owner_user_id=REGIONAL_EXEC)
    stewarded = add_rule(db, admin, name="Stewarded", unit_key="unit3")
    with db.begin() as connection:
        connection.execute(text("UPDATE kpis SET steward_id = :u"), {"u": PEOPLE.regional})
    orders(db, NOW - 30 * MIN, 150.0)
    orders(db, NOW - 30 * MIN, 150.0, unit=UNIT3)

    run(db, settings, NOW)

    owners = {r["rule_id"]: r["owner_user_id"] for r in rows(db, "SELECT * FROM reviews")}
    assert owners == {owned: REGIONAL_EXEC, stewarded: PEOPLE.regional}
    assert notified(db, "review.opened") == {REGIONAL_EXEC, PEOPLE.regional}


def test_an_edited_rule_is_judged_on_its_new_line_and_the_edit_is_audited(
    world: World, db: Engine, settings: Settings
) -> None:
    admin = principal(db, PEOPLE.admin)
    rule = add_rule(db, admin)
    orders(db, NOW - 30 * MIN, 150.0)
    with Session(db) as session, session.begin():
        changed = rule_spec(condition=Condition.BELOW, threshold=100.0)
        assert update_rule(session, admin, rule, changed, NOW)
    run(db, settings, NOW)
    assert state_of(db, rule) == "ok"  # 150 is not below 100
    audit = rows(
        db,
        "SELECT action, before, after, actor_id FROM audit_log "
        "WHERE target_type = 'alert_rule' ORDER BY id",
    )
    assert [a["action"] for a in audit] == ["alert_rule.create", "alert_rule.update"]
    assert audit[1]["before"] == {"condition": "above"}
    assert audit[1]["after"] == {"condition": "below"}
    assert audit[1]["actor_id"] == PEOPLE.admin


def test_a_deactivated_rule_goes_back_to_ok_and_is_no_longer_judged(
    world: World, db: Engine, settings: Settings
) -> None:
    admin = principal(db, PEOPLE.admin)
    rule = add_rule(db, admin)
    orders(db, NOW - 30 * MIN, 150.0)
    run(db, settings, NOW)
    assert state_of(db, rule) == "firing"
    with Session(db) as session, session.begin():
        assert update_rule(session, admin, rule, rule_spec(active=False), NOW + MIN)
    assert state_of(db, rule) == "ok"
    assert transitions(db, rule)[-1] == ("firing", "ok", None)
    report = run(db, settings, NOW + 2 * MIN)
    assert report.rules == 0
    assert len(transitions(db, rule)) == 3
