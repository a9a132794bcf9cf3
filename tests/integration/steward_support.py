"""Support of the steward console tests: the quality world's people signed in over HTTP, two
real incidents (opened by check cycles), and callbacks posted as the browser posts them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from dashboard.app import create_app
from models.accounts import hash_password
from models.settings import Settings

from .auth_support import PASSWORD, FakeClock, page_request, sign_in
from .quality_support import ORDERS, TICKETS, World, count, make_world, run, window_starting
from .quality_support import write_window as write_source_window

UPDATE = "/_dash-update-component"
WINDOW = window_starting(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC))
OPENED_AT = dt.datetime(2026, 3, 2, 10, 20, 30, tzinfo=dt.UTC)
"""Six minutes after the newest order: the orders' freshness SLA (5 min) is broken."""
TICKETS_LATE_AT = OPENED_AT + dt.timedelta(minutes=70)
"""The tickets' SLA (1 h) is broken too: a second incident."""
EMAILS = {
    "steward": "sam@example.com",
    "colleague": "uma@example.com",
    "executive": "eve@example.com",
    "admin": "ada@example.com",
    "regional": "rita@example.com",
}


@dataclass
class Console:
    app: Flask
    db: Engine
    world: World
    orders_incident: int
    tickets_incident: int

    def client(self, who: str | None) -> FlaskClient:
        """A client signed in as ``who`` (a key of :data:`EMAILS`); anonymous for None."""
        client = self.app.test_client()
        if who is not None:
            response = sign_in(client, email=EMAILS[who], password=PASSWORD)
            assert response.status_code == 303, who
        return client


def open_incidents(db: Engine, settings: Settings) -> tuple[int, int]:
    """A critical freshness incident on the orders, then one on the tickets."""
    write_source_window(db, ORDERS, WINDOW, 30)
    write_source_window(db, TICKETS, WINDOW, 30)
    (orders,) = run(db, settings, OPENED_AT).incidents.opened
    (tickets,) = run(db, settings, TICKETS_LATE_AT).incidents.opened
    return orders, tickets


@pytest.fixture
def console(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[Console]:
    world = make_world(db)
    with db.begin() as connection:
        connection.execute(
            text("UPDATE users SET password_hash = :h"), {"h": hash_password(PASSWORD)}
        )
    orders, tickets = open_incidents(db, settings)
    unthrottled = settings.model_copy(update={"rate_limit_enabled": False})
    app = create_app(unthrottled, clock=FakeClock())
    yield Console(app, db, world, orders, tickets)
    app.extensions["northstar"].close()


# --- callbacks as the browser posts them ------------------------------------------------------


def dependencies(client: FlaskClient) -> list[dict[str, Any]]:
    response = client.get("/_dash-dependencies")
    assert response.status_code == 200
    listed: list[dict[str, Any]] = response.get_json()
    return listed


def _dependency(text_: str) -> dict[str, str]:
    component, prop = text_.rsplit(".", 1)
    return {"id": component, "property": prop}


def callback_body(spec: Mapping[str, Any], values: Sequence[Any]) -> dict[str, Any]:
    """The body for ``spec`` (from ``/_dash-dependencies``) with the inputs, then the states,
    set to ``values``; the first input is the one that changed."""
    output = spec["output"]
    outputs: Any = (
        [_dependency(p) for p in output[2:-2].split("...")]
        if output.startswith("..")
        else _dependency(output)
    )
    inputs, states = spec["inputs"], spec["state"]
    assert len(values) == len(inputs) + len(states), output

    def entries(deps: list[dict[str, Any]], given: Sequence[Any]) -> list[dict[str, Any]]:
        return [{**d, "value": v} for d, v in zip(deps, given, strict=True)]

    return {
        "output": output,
        "outputs": outputs,
        "inputs": entries(inputs, values[: len(inputs)]),
        "state": entries(states, values[len(inputs) :]),
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
    }


class Caller:
    """Posts a page's callbacks, found by (one of) their output component ids."""

    def __init__(self, client: FlaskClient, specs: list[dict[str, Any]] | None = None) -> None:
        self.client = client
        self.specs = dependencies(client) if specs is None else specs

    def spec(self, output_id: str) -> dict[str, Any]:
        # The same callback may be listed more than once: Dash keeps the callbacks of every app
        # built in this process (tests build many); copies with one output are one callback.
        by_output = {s["output"]: s for s in self.specs if f"{output_id}." in s["output"]}
        found = list(by_output.values())
        assert len(found) == 1, (output_id, [s["output"] for s in found])
        return found[0]

    def post(self, output_id: str, *values: Any) -> TestResponse:
        body = json.dumps(callback_body(self.spec(output_id), values))
        return self.client.post(UPDATE, data=body, content_type="application/json")

    def answer(self, output_id: str, *values: Any) -> dict[str, Any]:
        """The callback's answer by output component id (each output's properties)."""
        response = self.post(output_id, *values)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        found: dict[str, Any] = response.get_json()["response"]
        return found

    def page(self, path: str, search: str = "") -> str:
        """The page's layout as Dash's router answers it (JSON text)."""
        response = self.client.post(UPDATE, json=page_request(path, search))
        assert response.status_code == 200
        return response.get_data(as_text=True)


def prop(rendered: str, component_id: str, name: str) -> Any:
    """A property of the component ``component_id`` in a rendered layout (JSON text)."""

    def find(node: Any) -> Any:
        if isinstance(node, list):
            for item in node:
                found = find(item)
                if found is not None:
                    return found
        elif isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == component_id:
                return props
            for value in node.values():
                found = find(value)
                if found is not None:
                    return found
        return None

    props = find(json.loads(rendered))
    assert props is not None, component_id
    return props.get(name)


_NOT_SHOWN = frozenset(
    {"type", "namespace", "className", "class_name", "role", "id", "color", "aria-hidden"}
)


def texts(node: Any) -> str:
    """The strings of a callback answer, joined: what the user would read, and the links
    (component types, ids and styling left out)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return " ".join(t for t in (texts(n) for n in node) if t)
    if isinstance(node, dict):
        shown = (texts(v) for k, v in node.items() if k not in _NOT_SHOWN)
        return " ".join(t for t in shown if t)
    return "" if node is None or isinstance(node, bool) else str(node)


def snapshot(db: Engine) -> dict[str, Any]:
    """Everything a steward action could change."""
    with db.connect() as connection:
        incidents = [
            dict(r._mapping)
            for r in connection.execute(text("SELECT * FROM incidents ORDER BY id"))
        ]
    return {
        "incidents": incidents,
        "timeline": count(db, "incident_events"),
        "audit": count(db, "audit_log"),
        "notifications": count(db, "notifications"),
        "read": count(db, "notifications WHERE read_at IS NOT NULL"),
    }


def access_outcomes(db: Engine, user_id: int, action: str) -> list[str]:
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT CAST(outcome AS text) FROM access_log "
                "WHERE user_id = :u AND action = :a ORDER BY id"
            ),
            {"u": user_id, "a": action},
        )
        return [str(r[0]) for r in rows]
