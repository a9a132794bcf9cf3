"""The alert pages over HTTP: a firing alert (evaluated by a real RQ worker) opens a review that
shows on the KPI page; the rule editor and the review actions, and who may use them.

The world is the quality world (``quality_support``) with Rob, an executive of unit 2
(``alerts_support``): Sam, Uma (stewards), Eve (executive) and Ada (admin) see the whole
company, Rita (steward) unit 3 only. Only Ada holds ``alert:manage``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, text

from dashboard.app import create_app
from dashboard.shell import live
from ingest import jobs
from ingest.worker import make_worker
from integration.alerts_support import (
    REGIONAL_EXEC,
    add_rule,
    make_alert_world,
    one,
    orders,
    principal,
)
from integration.auth_support import PASSWORD, FakeClock, sign_in
from integration.quality_support import PEOPLE, UNIT3, rows
from integration.steward_support import Caller, prop, texts
from models.accounts import hash_password
from models.settings import Settings

EMAILS = {
    "admin": "ada@example.com",
    "executive": "eve@example.com",
    "steward": "sam@example.com",
    "regional": "rita@example.com",
    "rob": "rob@example.com",
    "manager3": "mia@example.com",
}
SAVE, PREVIEW, STATE = "alert-save-result", "alert-preview-text", "alert-state"
KPI_HEAD = "kpi-head"
DONE = {a: f"review-{a}-result" for a in ("schedule", "decide", "close")}
MIN = dt.timedelta(minutes=1)


@dataclass
class Site:
    app: Flask
    db: Engine

    def client(self, who: str) -> FlaskClient:
        client = self.app.test_client()
        response = sign_in(client, email=EMAILS[who], password=PASSWORD)
        assert response.status_code == 303, who
        return client

    def caller(self, who: str) -> Caller:
        return Caller(self.client(who))


def add_unit3_manager(db: Engine) -> int:
    """Mia: kpi:view and alert:manage on unit 3 only (a custom role)."""
    with db.begin() as connection:
        role = connection.execute(
            text("INSERT INTO roles (key, name) VALUES ('alerts3', 'Alerts') RETURNING id")
        ).scalar_one()
        for permission in ("kpi:view", "alert:manage"):
            connection.execute(
                text("INSERT INTO role_permissions VALUES (:r, CAST(:p AS permission))"),
                {"r": role, "p": permission},
            )
        user = connection.execute(
            text(
                "INSERT INTO users (email, display_name) VALUES ('mia@example.com', 'Mia') "
                "RETURNING id"
            )
        ).scalar_one()
        connection.execute(text("INSERT INTO user_roles VALUES (:u, :r)"), {"u": user, "r": role})
        connection.execute(
            text("INSERT INTO user_scopes (user_id, org_unit_id) VALUES (:u, :o)"),
            {"u": user, "o": UNIT3},
        )
    return int(user)


@pytest.fixture
def site(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[Site]:
    make_alert_world(db)
    add_unit3_manager(db)
    with db.begin() as connection:
        connection.execute(
            text("UPDATE users SET password_hash = :h"), {"h": hash_password(PASSWORD)}
        )
    app = create_app(settings.model_copy(update={"rate_limit_enabled": False}), clock=FakeClock())
    yield Site(app, db)
    app.extensions["northstar"].close()


def run_evaluation_job(redis_client: redis.Redis, settings: Settings) -> None:
    """``ingest.alerts.jobs.evaluate_alerts`` enqueued as cron does, run by a burst worker."""
    jobs.init_services(settings)
    queue = Queue(jobs.QUEUE, connection=redis_client, serializer=JSONSerializer)
    job = queue.enqueue("ingest.alerts.jobs.evaluate_alerts")
    make_worker([jobs.QUEUE], redis_client).work(burst=True, logging_level="WARNING")
    job.refresh()
    assert job.is_finished, job.latest_result()


def kpi_page(caller: Caller, unit: str) -> dict[str, Any]:
    return caller.answer(KPI_HEAD, {"kpi": "revenue", "unit": unit}, "today", "auto", None, None)


class Clock:
    """The pages' clock (``live.utc_now``), moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_firing_alert_opens_a_review_that_shows_on_the_kpi_page(
    site: Site,
    db: Engine,
    redis_client: redis.Redis,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(live, "utc_now", clock)
    rule = add_rule(db, principal(db, PEOPLE.admin), now=clock.now, owner_user_id=REGIONAL_EXEC)
    orders(db, clock.now - 10 * MIN, 150.0)
    rob = site.caller("rob")
    assert "Open reviews" not in texts(kpi_page(rob, "unit2")[KPI_HEAD]["children"])

    run_evaluation_job(redis_client, settings)

    review = one(db, "SELECT id FROM reviews WHERE rule_id = :r", {"r": rule})
    # The page's review list is cached for the minute (docs/alerts.md): the next minute has it.
    clock.now += MIN
    answer = kpi_page(rob, "unit2")
    head = texts(answer[KPI_HEAD]["children"])
    assert "Open reviews (1)" in head
    assert f"#{review} Revenue above 100.00 at UNIT2" in head
    assert f"/reviews/{review}" in head
    layout = answer["kpi-trend-graph"]["figure"]["layout"]
    assert [a["text"] for a in layout["annotations"]] == [f"Review #{review}"]
    # The same page at the company level (Eve) shows it too; Rita's unit 3 does not.
    assert f"#{review} " in texts(kpi_page(site.caller("executive"), "acme")[KPI_HEAD]["children"])
    assert "Open reviews" not in texts(kpi_page(site.caller("regional"), "unit3")[KPI_HEAD])

    # Rob owns it: he decides it on the review page; the decision replaces the open mark.
    rob_review = rob.answer(DONE["decide"], 1, str(review), "Raise the line to 200.")
    assert "Decision recorded" in texts(rob_review)
    clock.now += MIN
    answer = kpi_page(rob, "unit2")
    assert "Decisions (1)" in texts(answer[KPI_HEAD]["children"])
    marks = answer["kpi-trend-graph"]["figure"]["layout"]["annotations"]
    assert [a["text"] for a in marks] == [f"Decided #{review}"]


def form(**changes: Any) -> list[Any]:
    """The editor's fields in form order: a rule on unit 2's revenue."""
    values = {
        "name": "Revenue spike",
        "kpi": "revenue",
        "unit": "unit2",
        "condition": "above",
        "threshold": 100,
        "clear": 80,
        "for_min": 5,
        "window": 3600,
        "severity": "critical",
        "mute_from": "",
        "mute_until": "",
        "notify": ["in_app"],
        "channels": [],
        "owner": PEOPLE.admin,
        "active": ["active"],
    }
    values.update(changes)
    return list(values.values())


def saved(caller: Caller, rule: Any, **changes: Any) -> str:
    answer = caller.answer(SAVE, 1, rule, *form(**changes))
    return texts(answer[SAVE]["children"])


def snapshot(db: Engine) -> dict[str, Any]:
    tables = ("alert_rules", "alert_rule_channels", "reviews", "review_events", "audit_log")
    return {t: rows(db, f"SELECT * FROM {t} ORDER BY 1") for t in tables}


def test_an_alert_manager_creates_previews_and_edits_a_rule_audited(site: Site, db: Engine) -> None:
    ada = site.caller("admin")
    page = ada.page("/alerts/new")
    assert "alert-save" in page
    assert prop(page, "alert-unit", "value") == "acme"

    problems = saved(ada, "new", threshold=None, clear=120, window=7, name="")
    assert "The rule was not saved" in problems
    assert "Give the alert level as a number." in problems
    assert "Choose one of the evaluation windows offered." in problems
    assert one(db, "SELECT count(*) FROM alert_rules") == 0
    problems = saved(ada, "new", clear=120)
    assert "clear level must be at or below the alert level" in problems

    answer = ada.answer(SAVE, 1, "new", *form())
    rule = one(db, "SELECT id FROM alert_rules")
    assert answer["alert-navigate"]["href"] == f"/alerts/{rule}"
    preview = ada.answer(PREVIEW, 1, *form())
    assert "Would have fired 0 times in the last 30 days" in texts(preview[PREVIEW]["children"])

    assert saved(ada, str(rule), threshold=150, severity="warning") == "Saved."
    assert saved(ada, str(rule), threshold=150, severity="warning") == "Nothing changed."
    audit = rows(db, "SELECT action, before, after, actor_id FROM audit_log ORDER BY id")
    assert [a["action"] for a in audit] == ["alert_rule.create", "alert_rule.update"]
    assert audit[1]["before"] == {"threshold": 100.0, "severity": "critical"}
    assert audit[1]["after"] == {"threshold": 150.0, "severity": "warning"}
    assert {a["actor_id"] for a in audit} == {PEOPLE.admin}
    listed = texts(ada.answer("alerts-table", "all")["alerts-table"]["children"])
    assert "Revenue spike" in listed
    assert "above 150.00" in listed


def test_forged_editor_and_review_callbacks_change_nothing(site: Site, db: Engine) -> None:
    admin = principal(db, PEOPLE.admin)
    rule = add_rule(db, admin, owner_user_id=REGIONAL_EXEC)
    with db.begin() as connection:  # an open review of Rob's
        connection.execute(
            text(
                "INSERT INTO reviews (rule_id, kpi_id, org_unit_id, title, severity, due_at, "
                "opened_at, last_seen_at, owner_user_id) VALUES (:r, 1, 2, 'Spike', 'warning', "
                "now() + interval '7 days', now(), now(), :o)"
            ),
            {"r": rule, "o": REGIONAL_EXEC},
        )
    review = one(db, "SELECT id FROM reviews")
    before = snapshot(db)

    for who in ("executive", "steward", "rob"):  # no alert:manage
        caller = site.caller(who)
        assert "Not allowed: missing permission alert:manage" in texts(
            caller.answer(SAVE, 1, "new", *form())
        )
        assert "Not allowed" in texts(caller.answer(SAVE, 1, str(rule), *form(threshold=1)))
        assert "Not allowed" in texts(caller.answer(PREVIEW, 1, *form()))
        assert "Not allowed" in caller.page(f"/alerts/{rule}")
    # Mia manages alerts of unit 3 only: unit 2's rule and unit 2 itself are not hers.
    mia = site.caller("manager3")
    refused = texts(mia.answer(SAVE, 1, str(rule), *form(unit="unit3")))
    assert "no such alert rule in your scope" in refused
    assert "no such org unit in your scope" in texts(mia.answer(SAVE, 1, "new", *form()))
    assert "no such org unit in your scope" in texts(mia.answer(PREVIEW, 1, *form()))
    assert "no such alert rule in your scope" in mia.page(f"/alerts/{rule}")
    # Reviews: Eve may read Rob's review but not act on it; Rita may not even see it.
    eve = site.caller("executive")
    assert eve.answer("review-header", str(review), None, None, None)["review-panel"]["hidden"]
    assert "only the review's owner" in texts(eve.answer(DONE["decide"], 1, str(review), "No."))
    assert "only the review's owner" in texts(eve.answer(DONE["close"], 1, str(review), "Closing."))
    rita = site.caller("regional")
    assert "no such review in your scope" in texts(
        rita.answer(DONE["decide"], 1, str(review), "No.")
    )
    assert "no such review in your scope" in texts(
        rita.answer("review-header", str(review), None, None, None)["review-header"]
    )
    assert snapshot(db) == before


def test_review_actions_follow_the_lifecycle_and_are_audited(site: Site, db: Engine) -> None:
    admin = principal(db, PEOPLE.admin)
    rule = add_rule(db, admin)
    with db.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reviews (rule_id, kpi_id, org_unit_id, title, severity, due_at, "
                "opened_at, last_seen_at) VALUES (:r, 1, 2, 'Spike', 'critical', "
                "now() + interval '7 days', now(), now())"
            ),
            {"r": rule},
        )
    review = str(one(db, "SELECT id FROM reviews"))
    ada = site.caller("admin")
    assert "choose the meeting" in texts(ada.answer(DONE["schedule"], 1, review, "", ""))
    assert "Scheduled." in texts(ada.answer(DONE["schedule"], 1, review, "2026-04-01T10:00", ""))
    assert "a decision needs a note" in texts(ada.answer(DONE["decide"], 1, review, " "))
    assert "Decision recorded" in texts(ada.answer(DONE["decide"], 1, review, "Accept it."))
    assert "cannot be decided" in texts(ada.answer(DONE["decide"], 1, review, "Again."))
    assert "Closed." in texts(ada.answer(DONE["close"], 1, review, ""))
    found = rows(db, "SELECT state, scheduled_for, decision_note FROM reviews")[0]
    assert found["state"] == "closed"
    assert found["scheduled_for"] == dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)
    assert found["decision_note"] == "Accept it."
    audit = rows(db, "SELECT action, before, after FROM audit_log WHERE target_type = 'review'")
    assert [a["action"] for a in audit] == ["review.schedule", "review.decide", "review.close"]
    assert audit[1]["before"]["state"] == "scheduled"
    assert audit[1]["after"] == {"state": "decided", "decision_note": "Accept it."}
    listed = site.caller("executive").answer("reviews-table", [], [], [])
    assert "Spike" in texts(listed["reviews-table"]["children"])
    assert "Spike" not in texts(
        site.caller("executive").answer("reviews-table", ["open"], [], [])["reviews-table"]
    )
