"""The steward console over HTTP: the incident queue, the incident page and its actions, and
who may use them.

Incidents are opened by real check cycles (``steward_support.open_incidents``); every request
goes through the app as a browser's would, sign-in and Dash's callback endpoint included.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from integration.quality_support import ORDERS, PEOPLE, TICKETS, UNIT2, UNIT3, rows
from integration.steward_support import (
    Caller,
    Console,
    access_outcomes,
    console,
    prop,
    snapshot,
    texts,
)

__all__ = ["console"]  # fixture


QUEUE, DETAIL = "queue-table", "incident-header"
RESULT = {a: f"incident-{a}-result" for a in ("acknowledge", "assign", "comment", "resolve")}
UNRESOLVED = ["open", "acknowledged", "recovered"]


def queue(caller: Caller, states: Any = UNRESOLVED, severity: Any = None, source: Any = None,
          owner: Any = None, assignee: Any = None) -> str:  # fmt: skip
    answer = caller.answer(QUEUE, states, severity, source, owner, assignee)
    return texts(answer[QUEUE]["children"])


def detail(caller: Caller, incident: Any) -> dict[str, Any]:
    """The incident page's parts by output id (the four 'done' stores left as sent)."""
    return caller.answer(DETAIL, incident, None, None, None, None)


def act(caller: Caller, action: str, incident: Any, *states: Any, n_clicks: Any = 1) -> str:
    """Post ``action``'s button callback; the text it answers with."""
    response = caller.post(RESULT[action], n_clicks, incident, *states)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return texts(response.get_json()["response"][RESULT[action]]["children"])


def steps(db: Engine, incident_id: int) -> list[tuple[str, str, str]]:
    found = rows(
        db,
        "SELECT CAST(kind AS text) AS kind, actor, note FROM incident_events "
        "WHERE incident_id = :i ORDER BY at, id",
        {"i": incident_id},
    )
    return [(r["kind"], r["actor"], r["note"]) for r in found]


# --- the queue ------------------------------------------------------------------------------


def test_a_steward_lists_and_filters_the_incidents_in_scope(console: Console) -> None:
    caller = Caller(console.client("steward"))
    page = caller.page("/steward/incidents")
    assert "queue-state" in page  # the filters, with the sources
    assert "Orders" in page

    listed = queue(caller)
    orders, tickets = console.orders_incident, console.tickets_incident
    assert f"#{orders} " in listed
    assert f"#{tickets} " in listed
    # Severity as icon and word; the check, state, owner and affected KPIs by name.
    assert "‼" in listed
    assert "Critical" in listed
    assert "Freshness" in listed
    assert "Open" in listed
    assert "Sam Steward" in listed  # the orders' steward owns its incident
    assert "Stewards of ACME" in listed  # the tickets have no steward
    assert "Revenue" in listed
    assert "/kpi/revenue" in listed
    assert f"/steward/incidents/{orders}" in listed

    assert f"#{tickets} " not in queue(caller, source=ORDERS)
    assert f"#{orders} " not in queue(caller, source=TICKETS)
    assert f"#{orders} " in queue(caller, owner=PEOPLE.steward)
    assert f"#{tickets} " not in queue(caller, owner=PEOPLE.steward)
    assert "No incidents match" in queue(caller, states=["resolved"])
    assert "No incidents match" in queue(caller, severity=["warning"])
    assert "No incidents match" in queue(caller, assignee=PEOPLE.colleague)
    # The query string preselects a source (by key) and a state.
    preselected = caller.page("/steward/incidents", "?source=tickets&state=all")
    assert prop(preselected, "queue-source", "value") == TICKETS
    assert prop(preselected, "queue-state", "value") == []


@pytest.mark.parametrize(
    ("states", "source", "message"),
    [
        (["open", "' OR 1=1 --"], None, "Invalid input: unknown state."),
        ("x" * 10_000, None, "Invalid input: unknown state."),
        (UNRESOLVED, "1; DROP TABLE incidents", "Invalid input: a source must be given by"),
        (UNRESOLVED, {"a": 1}, "Invalid input: a source must be given by its number."),
        (UNRESOLVED, -1, "Invalid input: a source must be given by its number."),
    ],
)
def test_the_queue_refuses_forged_filters_cleanly(
    console: Console, states: Any, source: Any, message: str
) -> None:
    caller = Caller(console.client("steward"))
    answer = queue(caller, states=states, source=source)
    assert message in answer
    assert "Orders" not in answer


def test_a_steward_of_another_unit_sees_no_incident_of_this_one(console: Console) -> None:
    caller = Caller(console.client("regional"))
    assert "No incidents match" in queue(caller)
    assert "No incidents match" in queue(caller, source=ORDERS)  # asking by id changes nothing
    shown = detail(caller, console.orders_incident)
    assert "Not allowed: no such incident in your scope." in texts(shown[DETAIL])
    assert shown["incident-panel"]["hidden"] is True


# --- the incident page and its actions --------------------------------------------------------


def test_a_steward_acknowledges_comments_assigns_and_resolves_an_incident(
    console: Console,
) -> None:
    db, incident = console.db, console.orders_incident
    caller = Caller(console.client("steward"))
    assert "incident-acknowledge" in caller.page(f"/steward/incidents/{incident}")

    shown = detail(caller, str(incident))  # the id as the URL gives it
    header = texts(shown[DETAIL])
    assert f"Incident #{incident}" in header
    assert "Orders" in header
    assert "Critical" in header
    assert "Opened" in texts(shown["incident-timeline"])
    figure = shown["incident-evidence"]["figure"]
    failing = next(t for t in figure["data"] if t["name"] == "Failing")
    assert failing["marker"]["symbol"] == "square"  # the failing results
    assert failing["y"]
    assert any(t["name"] == "Freshness SLA" for t in figure["data"])
    assert "Revenue" in texts(shown["incident-kpis"])
    assert "/kpi/minutes_per_item" in texts(shown["incident-kpis"])
    people = {o["label"] for o in shown["incident-assignee"]["options"]}
    assert people == {"Sam Steward", "Uma Unit", "Ada Admin"}  # not Eve, not Rita

    assert "Acknowledged" in act(caller, "acknowledge", incident, "Looking into it.")
    assert "Comment added." in act(caller, "comment", incident, "The feed's host is down.")
    assert "Assigned to Uma Unit." in act(caller, "assign", incident, PEOPLE.colleague, "")
    assert "Resolved." in act(caller, "resolve", incident, "Restarted the exporter.")

    assert steps(db, incident)[1:] == [
        ("acknowledged", "Sam Steward", "Looking into it."),
        ("commented", "Sam Steward", "The feed's host is down."),
        ("assigned", "Sam Steward", ""),
        ("resolved", "Sam Steward", "Restarted the exporter."),
    ]
    audit = rows(
        db,
        "SELECT action, actor_id, target_id FROM audit_log WHERE target_type = 'incident' "
        "ORDER BY id",
    )
    assert [(r["action"], r["actor_id"], r["target_id"]) for r in audit] == [
        (f"incident.{verb}", PEOPLE.steward, str(incident))
        for verb in ("acknowledge", "comment", "assign", "resolve")
    ]
    assigned = rows(db, "SELECT user_id, link FROM notifications WHERE kind = 'incident.assigned'")
    assert assigned == [{"user_id": PEOPLE.colleague, "link": f"/steward/incidents/{incident}"}]
    for action in ("acknowledge", "comment", "assign", "resolve"):
        assert access_outcomes(db, PEOPLE.steward, f"{action}_incident") == ["ok"]

    # The page now shows what happened, in order, with actor and note.
    shown = detail(caller, incident)
    timeline = texts(shown["incident-timeline"])
    for word in ("Acknowledged", "Comment", "Assigned", "Resolved", "Restarted the exporter."):
        assert word in timeline
    assert "Assigned to Uma Unit." in timeline
    assert "Resolved" in texts(shown[DETAIL])
    assert "Restarted the exporter." in texts(shown[DETAIL])
    assert "incident.resolve" in {r["action"] for r in audit}


def test_a_button_not_clicked_changes_nothing(console: Console) -> None:
    caller = Caller(console.client("steward"))
    before = snapshot(console.db)
    for n_clicks in (0, None, True, "1"):
        response = caller.post(RESULT["acknowledge"], n_clicks, console.orders_incident, "")
        assert response.status_code in (200, 204)
    assert snapshot(console.db) == before


@pytest.mark.parametrize(
    ("action", "states", "message"),
    [
        ("resolve", ("",), "Invalid input: a note is required."),
        ("comment", ("   ",), "Invalid input: a note is required."),
        ("comment", ("x" * 4001,), "Invalid input: a note may have at most 4000 characters."),
        ("comment", (["a note"],), "Invalid input: a note must be text."),
        ("assign", (None, ""), "Invalid input: choose whom to assign the incident to."),
        ("assign", (PEOPLE.executive, ""), "the assignee must be an active user who may manage"),
        ("assign", (PEOPLE.regional, ""), "the assignee must be an active user who may manage"),
        ("assign", ("1 OR 1=1", ""), "Invalid input: an assignee must be given by its number."),
    ],
)
def test_bad_action_input_is_refused_and_changes_nothing(
    console: Console, action: str, states: tuple[Any, ...], message: str
) -> None:
    caller = Caller(console.client("steward"))
    before = snapshot(console.db)
    assert message in act(caller, action, console.orders_incident, *states)
    assert snapshot(console.db) == before
    assert access_outcomes(console.db, PEOPLE.steward, f"{action}_incident") == ["denied"]


def test_acting_twice_is_refused_with_the_reason(console: Console) -> None:
    caller = Caller(console.client("steward"))
    incident = console.orders_incident
    assert "Resolved." in act(caller, "resolve", incident, "Fixed.")
    before = snapshot(console.db)
    assert f"incident {incident} is resolved; it cannot be acknowledged" in act(
        caller, "acknowledge", incident, ""
    )
    assert f"incident {incident} is resolved; it cannot be resolved again" in act(
        caller, "resolve", incident, "Again."
    )
    assert snapshot(console.db) == before
    # A post-mortem comment is still welcome.
    assert "Comment added." in act(caller, "comment", incident, "Root cause: expired cert.")


FORGED_IDS: list[Any] = [
    999_999,
    0,
    -1,
    2**63,
    "1; DROP TABLE incidents",
    "' OR 1=1 --",
    "1.5",
    1.5,
    None,
    True,
    [1],
    {"id": 1},
    "x" * 10_000,
]


def _each_action(incident: Any) -> list[tuple[str, tuple[Any, ...]]]:
    return [
        ("acknowledge", (incident, "forged")),
        ("assign", (incident, PEOPLE.executive, "forged")),
        ("comment", (incident, "forged")),
        ("resolve", (incident, "forged")),
    ]


def test_an_executive_forging_every_action_changes_nothing_and_is_refused(
    console: Console,
) -> None:
    caller = Caller(console.client("executive"))
    before = snapshot(console.db)
    ids: list[Any] = [console.orders_incident, console.tickets_incident, *FORGED_IDS]
    calls = 0
    for incident in ids:
        for action, values in _each_action(incident):
            answer = act(caller, action, *values)
            assert answer == "Not allowed: missing permission incident:manage.", (action, incident)
            calls += 1
    assert "Not allowed: missing permission incident:manage." in texts(
        detail(caller, console.orders_incident)[DETAIL]
    )
    assert snapshot(console.db) == before
    logged = [
        outcome
        for action in ("acknowledge", "assign", "comment", "resolve")
        for outcome in access_outcomes(console.db, PEOPLE.executive, f"{action}_incident")
    ]
    assert logged == ["denied"] * calls  # every call, by the guard


def test_a_steward_forging_ids_out_of_scope_or_junk_changes_nothing(console: Console) -> None:
    regional = Caller(console.client("regional"))
    steward = Caller(console.client("steward"))
    before = snapshot(console.db)
    for incident in (console.orders_incident, console.tickets_incident):
        for action, values in _each_action(incident):
            answer = act(regional, action, *values)
            assert answer == "Not allowed: no such incident in your scope.", (action, incident)
    for incident in FORGED_IDS:
        for action, values in _each_action(incident):
            answer = act(steward, action, *values)
            assert answer in (
                "Not allowed: no such incident in your scope.",
                "Invalid input: an incident must be given by its number.",
            ), (action, incident, answer)
    assert snapshot(console.db) == before


def _move(console: Console, source_id: int, incident_id: int, unit: int) -> None:
    """Give a source, and its incident, another owner unit: as if it had opened there."""
    with console.db.begin() as connection:
        connection.execute(
            text("UPDATE sources SET owner_unit_id = :u WHERE id = :s"), {"u": unit, "s": source_id}
        )
        connection.execute(
            text("UPDATE incidents SET owner_unit_id = :u WHERE id = :i"),
            {"u": unit, "i": incident_id},
        )


def test_a_steward_of_a_sibling_unit_forging_its_incident_changes_nothing(
    console: Console,
) -> None:
    """Units 2 and 3 are siblings (think EMEA and Americas): Rita, a steward of unit 3, clicks
    every action with the real number of unit 2's incident. Each call reaches the action's own
    scope check and is refused; the same clicks on an incident of unit 3 work."""
    _move(console, TICKETS, console.tickets_incident, UNIT2)
    _move(console, ORDERS, console.orders_incident, UNIT3)
    regional = Caller(console.client("regional"))
    before, tickets_steps = snapshot(console.db), steps(console.db, console.tickets_incident)
    for action, values in _each_action(console.tickets_incident):
        answer = act(regional, action, *values)
        assert answer == "Not allowed: no such incident in your scope.", action
    shown = detail(regional, console.tickets_incident)
    assert "Not allowed: no such incident in your scope." in texts(shown[DETAIL])
    assert f"#{console.tickets_incident} " not in queue(regional)
    assert snapshot(console.db) == before
    for action in ("acknowledge", "assign", "comment", "resolve"):
        assert access_outcomes(console.db, PEOPLE.regional, f"{action}_incident") == ["denied"]

    assert "Acknowledged" in act(regional, "acknowledge", console.orders_incident, "Mine.")
    assert "Resolved." in act(regional, "resolve", console.orders_incident, "Fixed here.")
    assert steps(console.db, console.orders_incident)[-2:] == [
        ("acknowledged", "Rita Regional", "Mine."),
        ("resolved", "Rita Regional", "Fixed here."),
    ]
    assert steps(console.db, console.tickets_incident) == tickets_steps


def test_anonymous_requests_are_refused_before_any_work(console: Console) -> None:
    signed_in = Caller(console.client("steward"))
    anonymous = console.client(None)
    assert anonymous.get("/steward/incidents").status_code == 302
    for output in (QUEUE, DETAIL, *RESULT.values(), "health-matrix", "lineage-view"):
        spec = signed_in.spec(output)
        count = len(spec["inputs"]) + len(spec["state"])
        values = [1, console.orders_incident, *([None] * count)][:count]
        response = Caller(anonymous, signed_in.specs).post(output, *values)
        assert response.status_code == 401, output
    with console.db.connect() as connection:
        logged = connection.execute(text("SELECT count(*) FROM access_log WHERE user_id IS NULL"))
        assert logged.scalar_one() == 0
