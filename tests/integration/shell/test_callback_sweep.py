"""Every callback, for every role, posted over HTTP as an attacker would: nothing leaks.

Generic on purpose: the callbacks come from ``/_dash-dependencies`` and the values a browser
would first send come from the pages' own layouts, so a callback added later is swept without
touching this file. Each input (and each key of a dict input) is replaced in turn by forged
values (:func:`forged_values`): other units, other KPIs, junk of every type. Every answer must
be clean (no 500, no trace, no logged error), carry no data outside the user's scope and no
personal data the user may not see; every call must be written to ``access_log``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from ingest.demo.catalog import ROLES
from integration.auth_support import page_request
from integration.shell.sweep_support import (
    JUNK,
    LOGS_REFUSALS_ONLY,
    UNFORGED,
    _collect,
    callback_body,
    fill_path,
    first_values,
    forged_values,
    initial_values,
    out_of_scope_values,
    page_callback_actions,
    prop_id,
    server_callbacks,
    signed_in_roles,
    variants,
)
from integration.shell.sweep_world_support import (
    EXECUTIVE,
    GLOBAL,
    HIDDEN_DATA,
    HIDDEN_KEYS,
    HOME_DATA,
    HOME_FEED,
    KPI_KEY,
    PAGE_SEARCH,
    PII_DOMAIN,
    TRACE_TEXT,
    UPDATE,
    World,
    permissions_of,
    world,
)
from models.permissions import Permission
from models.queries.masking import MASK

__all__ = ["world"]  # fixture


# --- the sweep -----------------------------------------------------------------------------


@dataclass
class Report:
    reached: dict[str, int] = field(default_factory=dict)
    """Requests that reached the callback (200 or 204), by output."""
    refused: dict[str, int] = field(default_factory=dict)
    """Requests refused (400) before Dash, by output: forged values Dash could not take."""
    problems: list[str] = field(default_factory=list)
    bodies_with: dict[str, int] = field(default_factory=dict)

    def saw(self, marker: str) -> bool:
        return self.bodies_with.get(marker, 0) > 0

    def count(self, output: str, status: int) -> None:
        tally = self.refused if status == 400 else self.reached
        tally[output] = tally.get(output, 0) + 1


def json_text(marker: str) -> str:
    """How ``marker`` appears, lower-cased, inside a JSON answer (non-ASCII escaped)."""
    return json.dumps(marker.lower())[1:-1]


def problems_in(
    status: int, body: str, sent: str, *, forged: bool, pii_allowed: bool, logged_errors: int
) -> list[str]:
    """Why an answer to a signed-in user's callback is not clean; empty if it is.

    Clean is 200 or 204, or a 400 from the callback-request check (dashboard/security.py)
    for a forged value Dash itself could not take; never for what the page sends.
    """
    found = []
    refused = status == 400 and '"bad_callback_request"' in body
    if status not in (200, 204) and not (refused and forged):
        found.append(f"status {status}")
    found += [f"trace text {marker!r}" for marker in TRACE_TEXT if marker in body]
    if logged_errors:
        found.append(f"{logged_errors} error(s) logged: an unhandled exception in the callback")
    lower, sent_lower = body.lower(), sent.lower()
    found += [f"out-of-scope data {m!r}" for m in HIDDEN_DATA if json_text(m) in lower]
    found += [f"out-of-scope key {k!r}" for k in HIDDEN_KEYS if k in lower and k not in sent_lower]
    if not pii_allowed and PII_DOMAIN in lower:
        found.append("unmasked personal data")
    return found


def sweep(
    client: FlaskClient,
    callbacks: Sequence[dict[str, Any]],
    initial: dict[tuple[str, str], Any],
    forged_for: Callable[[int], Sequence[Any]],
    *,
    pii_allowed: bool,
    caplog: pytest.LogCaptureFixture,
) -> Report:
    """Post every variant of every callback; collect what was not clean."""
    report = Report()
    for callback in callbacks:
        output = callback["output"]
        for what, values, changed in variants(callback, initial, forged_for):
            sent = callback_body(callback, values, changed)
            errors_before = len(caplog.records)
            response = client.post(UPDATE, data=sent, content_type="application/json")
            body = response.get_data(as_text=True)
            report.count(output, response.status_code)
            for marker in (HOME_DATA, PII_DOMAIN, MASK, HOME_FEED.name):
                found = json_text(marker) in body.lower()
                report.bodies_with[marker] = report.bodies_with.get(marker, 0) + found
            for problem in problems_in(
                response.status_code,
                body,
                sent,
                forged=what not in UNFORGED,
                pii_allowed=pii_allowed,
                logged_errors=len(caplog.records) - errors_before,
            ):
                report.problems.append(f"{output} | {what} | {problem} | {body[:300]!r}")
    return report


def warm_the_cache(client: FlaskClient, path_values: Mapping[str, str]) -> None:
    """Every callback with the values its page sends, as ``client``'s user."""
    initial = initial_values(client, path_values)
    for callback in server_callbacks(client):
        names = [prop_id(d) for d in callback["inputs"]]
        body = callback_body(callback, first_values(callback, initial), names[:1])
        response = client.post(UPDATE, data=body, content_type="application/json")
        assert response.status_code in (200, 204), callback["output"]


def logged_outcomes(engine: Engine, user_id: int) -> dict[tuple[str, str], int]:
    """How many ``access_log`` rows the user has, by (action, outcome)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT action, outcome, count(*) FROM access_log "
                "WHERE user_id = :user AND page <> 'auth' GROUP BY action, outcome"
            ),
            {"user": user_id},
        )
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


def access_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM access_log")).scalar_one())


# --- tests ---------------------------------------------------------------------------------

PAGE_PATHS = (
    "/",
    "/kpi/<kpi_key>",
    "/events",
    "/steward/incidents",
    "/steward/incidents/<incident_id>",
    "/steward/health",
    "/steward/lineage",
    "/notifications",
    "/alerts",
    "/alerts/<rule_id>",
    "/reviews",
    "/admin/users",
    "/admin/roles",
    "/admin/access-review",
    "/admin/channels",
    "/admin/sources",
    "/admin/sources/<key>",
    "/admin/logs",
)
"""The pages that have callbacks: each must have some swept."""
MIN_SERVER_CALLBACKS = 6
DATA_ACTIONS = {
    "update_tiles",
    "kpi_view",
    "events_rows",
    "incident_queue",
    "incident_detail",
    "acknowledge_incident",
    "health_view",
    "lineage_sources",
    "notifications_bell",
    "mark_notifications_read",
}


def test_the_sweep_finds_every_pages_callbacks_and_their_first_values(world: World) -> None:
    client = world.client(EXECUTIVE)
    callbacks = server_callbacks(client)
    outputs = {c["output"] for c in callbacks}
    assert len(callbacks) >= MIN_SERVER_CALLBACKS
    # Everything the server would run is listed, so no callback escapes the sweep ...
    actions = page_callback_actions(world.app)
    assert set(actions) <= outputs
    assert set(actions.values()) >= DATA_ACTIONS
    assert ".._pages_content.children..._pages_store.data.." in outputs  # Dash's router
    # ... and every page with callbacks has its first values found in its layout.
    initial = initial_values(client, world.path_values())
    admin = world.client("admin")  # may use every page
    for path in PAGE_PATHS:
        page = next(
            p for p in dash.page_registry.values() if (p.get("path_template") or p["path"]) == path
        )
        rendered: dict[tuple[str, str], Any] = {}
        filled = fill_path(path, world.path_values())
        _collect(admin.post(UPDATE, json=page_request(filled, PAGE_SEARCH)).get_json(), rendered)
        inputs = {(d["id"], d["property"]) for c in callbacks for d in c["inputs"]}
        assert {component for component, _ in inputs} & {c for c, _ in rendered}, page["path"]
    assert initial[("kpi-params", "data")] == {"kpi": KPI_KEY, "unit": None}
    assert initial[("events-params", "data")]["period"] == "30d"
    core, more = out_of_scope_values(world.units, world.incidents, world.quarantined)
    every = [
        forged_values(world.units, world.incidents, world.quarantined, role.key, 5)
        for role in ROLES
    ]
    tried = {json.dumps(v) for values in every for v in values}
    assert tried == {json.dumps(v) for v in [*core, *more, *JUNK]}  # shared out, none lost
    assert any(isinstance(v, float) and math.isnan(v) for values in every for v in values)


@pytest.mark.parametrize("role", signed_in_roles())
def test_forged_callbacks_reveal_nothing_outside_the_scope_and_fail_cleanly(
    world: World, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    warm_the_cache(world.client(GLOBAL), world.path_values())
    client = world.client(role)
    callbacks = server_callbacks(client)
    permissions = permissions_of(role)
    report = sweep(
        client,
        callbacks,
        initial_values(client, world.path_values()),
        lambda slot: forged_values(world.units, world.incidents, world.quarantined, role, slot),
        pii_allowed=Permission.PII_VIEW in permissions,
        caplog=caplog,
    )
    shown = "\n".join(report.problems[:50])
    assert not report.problems, f"{len(report.problems)} unclean answers:\n{shown}"
    assert set(report.reached) == {c["output"] for c in callbacks}
    # The sweep reached real data, so the checks above could have failed.
    if Permission.KPI_VIEW in permissions:
        assert report.saw(HOME_DATA)
    if Permission.INCIDENT_MANAGE in permissions:  # the console showed the unit's incident
        assert report.saw(HOME_FEED.name)
    if Permission.PII_VIEW in permissions:
        assert report.saw(PII_DOMAIN)
    elif Permission.EVENT_VIEW in permissions:
        assert report.saw(MASK)
    # Every call that reached a page's callback wrote one access_log row, refusals included;
    # the live poll returns no business data and logs its refusals only (docs/security.md).
    outcomes = logged_outcomes(world.engine, world.users[role])
    actions = page_callback_actions(world.app)
    for action in set(actions.values()):
        calls = sum(report.reached[o] for o, a in actions.items() if a == action)
        logged = sum(n for (a, _outcome), n in outcomes.items() if a == action)
        if action in LOGS_REFUSALS_ONLY:
            assert outcomes.get((action, "ok"), 0) == 0, action
            assert logged <= calls, f"{action}: {calls} calls, {logged} logged"
            continue
        assert logged == calls, f"{action}: {calls} calls, {logged} logged"
        if not permissions:
            assert outcomes.get((action, "denied"), 0) == calls, action
    assert sum(n for (_a, outcome), n in outcomes.items() if outcome == "denied") > 0
    assert not {o for (_a, o) in outcomes} & {"error", "throttled"}, outcomes


def test_anonymous_callbacks_are_refused_and_do_no_work(world: World) -> None:
    signed_in = world.client(EXECUTIVE)
    callbacks = server_callbacks(signed_in)
    initial = initial_values(signed_in, world.path_values())
    anonymous = world.client(None)
    assert anonymous.get("/_dash-dependencies").status_code == 401
    assert anonymous.get("/_dash-layout").status_code == 401
    logged_before = access_rows(world.engine)
    few = out_of_scope_values(world.units, world.incidents, world.quarantined)[0]
    for callback in callbacks:
        for what, values, changed in variants(callback, initial, lambda _slot: few):
            response = anonymous.post(
                UPDATE,
                data=callback_body(callback, values, changed),
                content_type="application/json",
            )
            assert response.status_code == 401, (callback["output"], what)
            assert response.get_json()["error"] == "unauthenticated"
    # Refused before any work: not even an access_log row (anyone could fill the table).
    assert access_rows(world.engine) == logged_before
