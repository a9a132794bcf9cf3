"""Every callback, for every role, posted over HTTP as an attacker would: nothing leaks.

Generic on purpose: the callbacks come from ``/_dash-dependencies`` and the values a browser
would first send come from the pages' own layouts, so a callback added later is swept without
touching this file. Each input (and each key of a dict input) is replaced in turn by forged
values (:func:`forged_values`): other units, other KPIs, junk of every type. Every answer must
be clean (no 500, no trace, no logged error), carry no data outside the user's scope and no
personal data the user may not see; every call must be written to ``access_log``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import json
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dash
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dashboard.app import DASH_KEY, create_app
from ingest.demo.catalog import COMPANY, KPIS, ORDERS, ROLES, SUPPORT_TICKETS
from ingest.quality import runner
from integration.auth_support import ACTOR, PASSWORD, FakeClock, page_request, sign_in
from models.accounts import UserSpec, create_user, upsert_role
from models.catalog import (
    OrgUnitSpec,
    org_unit_ids_by_key,
    source_ids_by_key,
    upsert_kpi,
    upsert_org_unit,
    upsert_source,
)
from models.enums import OrgLevel
from models.permissions import Permission
from models.quarantine import QuarantinedRecord
from models.queries.masking import MASK
from models.settings import Settings
from models.writes import EventRow, write_events

UPDATE = "/_dash-update-component"
NOW = dt.datetime.now(dt.UTC)
KPI_KEY = "revenue"
"""What the sweep puts in a page's path template (``/kpi/<kpi_key>``) and query string."""
PAGE_SEARCH = f"?kpi={KPI_KEY}&period=30d"
EXECUTIVE = "executive"
NO_ROLE = "no-role"
"""A signed-in user holding no role at all: every guarded callback must refuse them."""
GLOBAL = "global"
"""An executive of the whole company: first to load every page, so answers it may see
are in the cache (Redis) before the sweep; no other user may ever get them."""

# The organisation: users see "home" and below; "zz-veiled" and the company above are not theirs.
ROOT_KEY, HOME_KEY, HOME_CHILD_KEY = COMPANY.key, "home-region", "home-country"
HIDDEN_KEY, HIDDEN_CHILD_KEY = "zz-veiled", "zz-veiled-north"
UNITS = (
    COMPANY,
    OrgUnitSpec(HOME_KEY, "Homeland Region", OrgLevel.REGION, ROOT_KEY),
    OrgUnitSpec(HOME_CHILD_KEY, "Homeland Country", OrgLevel.COUNTRY, HOME_KEY),
    OrgUnitSpec(HIDDEN_KEY, "Quillmoor Region", OrgLevel.REGION, ROOT_KEY),
    OrgUnitSpec(HIDDEN_CHILD_KEY, "Quillmoor North", OrgLevel.COUNTRY, HIDDEN_KEY),
)
HOME_AMOUNTS = (120.0, 180.0)
HIDDEN_AMOUNT = 987_654.0
"""Each out-of-scope order's amount: it, the out-of-scope region's total and the company's
total are markers."""
HIDDEN_MARGIN = 4242.4242
PII_DOMAIN = "@pii-inscope.example"
HIDDEN_DATA = (
    "quillmoor",
    "zqleak",
    str(HIDDEN_MARGIN),
    *(
        shown
        for amount in (HIDDEN_AMOUNT, 2 * HIDDEN_AMOUNT, 2 * HIDDEN_AMOUNT + sum(HOME_AMOUNTS))
        for shown in (f"{amount:.0f}", f"{amount:,.0f}")
    ),
)
"""Out-of-scope data the attacker never sends: unit names, event ids, e-mail domain
(``@quillmoor.example``), values, and the totals they would show up in."""
HIDDEN_KEYS = (HIDDEN_KEY, HIDDEN_CHILD_KEY)
"""Out-of-scope keys: the attacker sends them, so an answer may echo one it was sent."""
HOME_DATA = "homeland"
HOME_FEED = dataclasses.replace(ORDERS, key="home_feed", name="Home feed", owner_unit_key=HOME_KEY)
HIDDEN_FEED = dataclasses.replace(
    ORDERS, key="zqleak_feed", name="Quillmoor feed", owner_unit_key=HIDDEN_KEY
)
"""Sources owned by the users' unit and by the veiled one: a data-quality cycle opens an
incident on each (no events ever), so the steward console has one in scope and one not."""
TRACE_TEXT = ("Traceback", 'File "')


def nested(depth: int) -> Any:
    """``[[[…"bottom"…]]]``, ``depth`` lists deep."""
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


JUNK: tuple[Any, ...] = (
    "orders",
    "support_resolution_time",
    "no-such-kpi",
    0,
    -1,
    2**63,
    10**9,
    1.5,
    float("nan"),
    float("inf"),
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "",
    "\x00<script>alert(1)</script>",
    "x" * 10_000,
    json.dumps(["2024-01-01T00:00:00+00:00", 10**20, "x"]),
    f"/kpi/{'x' * 5_000}",
    "//evil.example/",
    None,
    True,
    [],
    {},
    {"a": [{"b": {"c": [None, {"d": "' OR 1=1 --"}]}}]},
    nested(60),
    {"startRow": 0, "endRow": 10**9, "sortModel": [], "filterModel": {}},
    {"startRow": -5, "endRow": 2**63, "sortModel": [{"colId": "' OR 1=1 --", "sort": "asc"}]},
)
"""Other KPI keys, an unknown key, huge and negative numbers (page sizes), SQL
metacharacters, long strings, paths, wrong types, nested junk, and grid requests for a
billion rows (or a negative number of them)."""


def out_of_scope_values(
    unit_ids: dict[str, int], incident_ids: Mapping[str, int], quarantined: Mapping[str, int]
) -> tuple[list[Any], list[Any]]:
    """Other units' ids and keys, other units' incidents, and grid requests filtering by
    another unit or by personal data: the ones every role tries on every input, then the
    others."""
    root, hidden, hidden_child = (unit_ids[k] for k in (ROOT_KEY, *HIDDEN_KEYS))
    pii_filter = {"filterType": "text", "type": "contains", "filter": PII_DOMAIN}
    unit_filter = {"filterType": "text", "type": "equals", "filter": HIDDEN_KEY}
    core = [
        hidden,
        incident_ids[HIDDEN_FEED.key],
        quarantined[HIDDEN_FEED.key],
        [quarantined[HIDDEN_FEED.key]],
        HIDDEN_FEED.key,
        HOME_FEED.key,
        ROOT_KEY,
        HIDDEN_KEY,
        {"startRow": 0, "endRow": 100, "filterModel": {"unit": unit_filter}},
        {
            "startRow": 0,
            "endRow": 100,
            "sortModel": [{"colId": "a__customer_email", "sort": "asc"}],
            "filterModel": {"a__customer_email": pii_filter},
        },
    ]
    more = [
        root,
        str(incident_ids[ORDERS.key]),
        str(hidden_child),
        HIDDEN_CHILD_KEY,
        f" {HIDDEN_KEY.upper()} ",
        f"?unit={HIDDEN_KEY}&kpi={KPI_KEY}&period=30d",
        [HIDDEN_KEY, hidden],
        {"points": [{"customdata": HIDDEN_KEY}]},
    ]
    return core, more


def signed_in_roles() -> list[str]:
    return [*(r.key for r in ROLES), NO_ROLE]


def forged_values(
    unit_ids: dict[str, int],
    incident_ids: Mapping[str, int],
    quarantined: Mapping[str, int],
    role: str,
    slot: int,
) -> list[Any]:
    """The values forged into input number ``slot`` of a callback for ``role``, each once.

    Every role tries the core out-of-scope values on every input. The other out-of-scope
    values and :data:`JUNK` are shared out among the roles that hold permissions, in
    rotation: each tries a different share on each input, so together they try every value
    on every input, and the sweep stays fast. The user without a role is refused whatever
    it sends, so it tries the core values only.
    """
    core, more = out_of_scope_values(unit_ids, incident_ids, quarantined)
    roles = [r.key for r in ROLES]
    rest = [*more, *JUNK]
    share = rest[(slot + roles.index(role)) % len(roles) :: len(roles)] if role in roles else []
    unique: dict[str, Any] = {}
    for value in [*core, *share]:
        unique.setdefault(json.dumps(value), value)
    return list(unique.values())


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    app: Flask
    engine: Engine
    units: dict[str, int]
    users: dict[str, int]
    """User id by role key (and NO_ROLE, GLOBAL); all but GLOBAL see HOME_KEY only."""
    incidents: dict[str, int]
    """The open incident of each source, by source key."""
    quarantined: dict[str, int]
    """A quarantined record of each feed, by source key."""

    def path_values(self) -> dict[str, str]:
        """What the sweep puts in each part of the pages' path templates."""
        return {
            "kpi_key": KPI_KEY,
            "incident_id": str(self.incidents[HOME_FEED.key]),
            "key": HOME_FEED.key,  # the admin's source page
            "rule_id": "new",  # the alert editor's form for a new rule
        }

    def client(self, role: str | None) -> FlaskClient:
        """A client signed in as the user of ``role``; anonymous for None."""
        client = self.app.test_client()
        if role is not None:
            response = sign_in(client, email=email_of(role), password=PASSWORD)
            assert response.status_code == 303, role
        return client


def email_of(role: str) -> str:
    return f"{role}@example.com"


def permissions_of(role: str) -> frozenset[Permission]:
    return next((r.permissions for r in ROLES if r.key == role), frozenset())


def seed(engine: Engine) -> tuple[dict[str, int], dict[str, int]]:
    """Units, the demo orders and tickets sources and their KPIs, one regional user per role.

    Returns:
        unit ids by key, user ids by role key.
    """
    with Session(engine) as session, session.begin():
        for unit in UNITS:
            upsert_org_unit(session, unit, ACTOR)
        for source in (ORDERS, SUPPORT_TICKETS, HOME_FEED, HIDDEN_FEED):
            upsert_source(session, source, ACTOR)
        for kpi in KPIS:
            if "web_sessions" not in kpi.formula and "marketing_spend" not in kpi.formula:
                upsert_kpi(session, kpi, ACTOR)
        for role in ROLES:
            upsert_role(session, role, ACTOR)
        specs = {r.key: UserSpec(email_of(r.key), r.name, (r.key,), (HOME_KEY,)) for r in ROLES}
        specs[NO_ROLE] = UserSpec(email_of(NO_ROLE), "Nora Norole", (), (HOME_KEY,))
        specs[GLOBAL] = UserSpec(email_of(GLOBAL), "Grace Global", (EXECUTIVE,), (ROOT_KEY,))
        users = {
            role: create_user(session, spec, PASSWORD, ACTOR).id for role, spec in specs.items()
        }
        units = org_unit_ids_by_key(session)
        sources = source_ids_by_key(session)
    write_world_events(engine, units, sources)
    return units, users


def write_world_events(engine: Engine, units: dict[str, int], sources: dict[str, int]) -> None:
    """Orders and tickets in scope (with e-mails) and out of scope (distinctive values)."""
    orders, tickets = sources[ORDERS.key], sources[SUPPORT_TICKETS.key]
    rows = [
        EventRow(
            NOW - dt.timedelta(hours=n + 1),
            orders,
            f"in-o{n}",
            units[HOME_CHILD_KEY if n else HOME_KEY],
            {"amount": amount, "items": 1.0},
            {"channel": "web"},
            {"customer_email": f"buyer{n}{PII_DOMAIN}", "margin": 12.5},
        )
        for n, amount in enumerate(HOME_AMOUNTS)
    ]
    rows += [
        EventRow(
            NOW - dt.timedelta(hours=n + 1),
            orders,
            f"zqleak-o{n}",
            units[unit],
            {"amount": HIDDEN_AMOUNT, "items": 1.0},
            {"channel": "store"},
            {"customer_email": f"spy{n}@quillmoor.example", "margin": HIDDEN_MARGIN},
        )
        for n, unit in enumerate(HIDDEN_KEYS)
    ]
    rows += [
        EventRow(NOW - dt.timedelta(hours=2), tickets, f"{prefix}-t{n}", units[unit], {})
        for n, (prefix, unit) in enumerate((("in", HOME_CHILD_KEY), ("zqleak", HIDDEN_CHILD_KEY)))
    ]
    write_events(engine, rows)


def open_incidents(engine: Engine, settings: Settings) -> dict[str, int]:
    """One data-quality cycle at NOW: every source is late (orders and tickets for an hour,
    the feeds never had an event), so each gets an open freshness incident.

    Returns:
        incident ids by source key.
    """
    runner.run_cycle(engine, settings, NOW)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT s.key, i.id FROM incidents i JOIN sources s ON s.id = i.source_id")
        )
        found = {str(key): int(id_) for key, id_ in rows}
    assert {HOME_FEED.key, HIDDEN_FEED.key, ORDERS.key} <= set(found), found
    return found


def quarantine_records(engine: Engine) -> dict[str, int]:
    """One open quarantined record of each feed: the users' carries an in-scope e-mail (masked
    without pii:view), the veiled one's out-of-scope markers.

    Returns:
        record ids by source key.
    """
    records = {
        HOME_FEED.key: {"order_id": "in-q1", "customer_email": f"queued{PII_DOMAIN}"},
        HIDDEN_FEED.key: {"order_id": "zqleak-q1", "customer_email": "spy@quillmoor.example"},
    }
    with Session(engine) as session, session.begin():
        sources = source_ids_by_key(session)
        found = {}
        for key, payload in records.items():
            record = QuarantinedRecord(
                source_id=sources[key],
                source_key=key,
                contract_version=1,
                payload={**payload, "org_unit": "nowhere", "amount": 1.0},
                field="org_unit",
                rule="unknown_org_unit",
                reason="org unit 'nowhere' does not exist",
            )
            session.add(record)
            session.flush()
            found[key] = record.id
    return found


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    units, users = seed(db)
    incidents = open_incidents(db, settings)
    quarantined = quarantine_records(db)
    # Thousands of callbacks from one user in seconds: per-user throttling would answer most.
    unthrottled = settings.model_copy(update={"rate_limit_enabled": False})
    app = create_app(unthrottled, clock=FakeClock())
    yield World(app, db, units, users, incidents, quarantined)
    app.extensions["northstar"].close()


# --- discovery: the callbacks and the values a browser first sends ---------------------------


def server_callbacks(client: FlaskClient) -> list[dict[str, Any]]:
    """Every callback ``/_dash-dependencies`` lists that runs on the server."""
    response = client.get("/_dash-dependencies")
    assert response.status_code == 200
    listed: list[dict[str, Any]] = response.get_json()
    return [c for c in listed if c["clientside_function"] is None]


def fill_path(template: str, path_values: Mapping[str, str]) -> str:
    """A page's path template with each ``<part>`` replaced by ``path_values[part]`` (by
    :data:`KPI_KEY` for parts it does not name)."""
    return re.sub(r"<([^>]+)>", lambda m: path_values.get(m.group(1), KPI_KEY), template)


def initial_values(
    client: FlaskClient, path_values: Mapping[str, str]
) -> dict[tuple[str, str], Any]:
    """Each component property's value as the pages' layouts first render it.

    Every registered page is rendered through Dash's page router, its path template filled
    from ``path_values`` (:meth:`World.path_values`) and its query string
    :data:`PAGE_SEARCH`.
    """
    found: dict[tuple[str, str], Any] = {}
    _collect(client.get("/_dash-layout").get_json(), found)
    for page in dash.page_registry.values():
        path = fill_path(page.get("path_template") or page["path"], path_values)
        response = client.post(UPDATE, json=page_request(path, PAGE_SEARCH))
        assert response.status_code == 200, path
        _collect(response.get_json(), found)
    return found


def _collect(node: Any, found: dict[tuple[str, str], Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, found)
    elif isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            for name, value in props.items():
                if name != "children":
                    found.setdefault((props["id"], name), value)
        for value in node.values():
            _collect(value, found)


LOGS_REFUSALS_ONLY = frozenset({"poll_versions"})
"""Callbacks guarded with ``logs_ok=False``: their answered calls write no access_log row."""


def page_callback_actions(app: Flask) -> dict[str, str]:
    """The ``access_log`` action (function name) of every server callback a page defines,
    by callback output; Dash's own callbacks (the page router) are left out."""
    actions = {}
    for output, spec in app.extensions[DASH_KEY].callback_map.items():
        if "callback" in spec:
            function = inspect.unwrap(spec["callback"])
            if function.__module__.split(".")[0] != "dash":
                actions[output] = function.__name__
    return actions


# --- requests ------------------------------------------------------------------------------


def _dependency(text_: str) -> dict[str, str]:
    component, prop = text_.rsplit(".", 1)
    # Pattern-matching ids need concrete ids the layouts do not give: extend the sweep first.
    assert not component.startswith("{"), f"pattern-matching callback {text_}"
    return {"id": component, "property": prop}


def declared_outputs(output: str) -> Any:
    """What the renderer sends as ``outputs``: one object, or a list for ``..a.b...c.d..``."""
    if output.startswith(".."):
        return [_dependency(part) for part in output[2:-2].split("...")]
    return _dependency(output)


def prop_id(dependency: dict[str, Any]) -> str:
    return f"{dependency['id']}.{dependency['property']}"


def callback_body(callback: dict[str, Any], values: Sequence[Any], changed: list[str]) -> str:
    """The JSON a browser would post for ``callback`` with these input and state values."""
    count = len(callback["inputs"])

    def entries(dependencies: list[dict[str, Any]], given: Sequence[Any]) -> list[Any]:
        return [
            {"id": d["id"], "property": d["property"], "value": v}
            for d, v in zip(dependencies, given, strict=True)
        ]

    body = {
        "output": callback["output"],
        "outputs": declared_outputs(callback["output"]),
        "inputs": entries(callback["inputs"], values[:count]),
        "state": entries(callback["state"], values[count:]),
        "changedPropIds": changed,
    }
    return json.dumps(body)  # NaN and Infinity as JavaScript would send them


def short(value: Any) -> str:
    shown = json.dumps(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."


BROWSER_DEFAULTS: dict[str, Any] = {
    "pathname": "/",
    "search": "",
    "getRowsRequest": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}},
}
"""What the browser sends for properties no layout sets: a ``dcc.Location``'s address,
an ag-grid's first block request (infinite row model)."""


def first_values(callback: dict[str, Any], initial: dict[tuple[str, str], Any]) -> list[Any]:
    """The input and state values the page sends first."""
    dependencies = [*callback["inputs"], *callback["state"]]
    return [
        initial.get((d["id"], d["property"]), BROWSER_DEFAULTS.get(d["property"]))
        for d in dependencies
    ]


def variants(
    callback: dict[str, Any],
    initial: dict[tuple[str, str], Any],
    forged_for: Callable[[int], Sequence[Any]],
) -> Iterator[tuple[str, list[Any], list[str]]]:
    """(what was forged, values, changedPropIds): the page's own values first (under
    :data:`UNFORGED`), then each input and state, and each key of a dict value, replaced in
    turn by each value ``forged_for`` gives for it (by its position in that order)."""
    base = first_values(callback, initial)
    names = [prop_id(d) for d in [*callback["inputs"], *callback["state"]]]
    yield UNFORGED[0], base, names[:1]
    yield UNFORGED[1], base, []
    yield "an unknown changed input", base, ["' OR 1=1 --.value"]
    slot = 0
    for index, name in enumerate(names):
        changed = [name] if index < len(callback["inputs"]) else names[:1]
        original = base[index]
        keys = list(original) if isinstance(original, dict) else []
        for key in [None, *keys]:
            for value in forged_for(slot):
                forged = value if key is None else {**original, key: value}
                where = name if key is None else f"{name}[{key!r}]"
                yield (
                    f"{where} = {short(value)}",
                    [*base[:index], forged, *base[index + 1 :]],
                    changed,
                )
            slot += 1


UNFORGED = ("the values the page sends", "no changed input")


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
