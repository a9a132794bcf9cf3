"""Support of the admin console tests: an organisation with admins, an executive and a steward
signed in over HTTP, the admin pages' callbacks posted as the browser posts them, and what the
console changes (users, grants, roles, links, campaigns, audit rows)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dashboard.app import create_app
from ingest.demo.catalog import ROLES
from models.accounts import UserSpec, create_user, upsert_role
from models.settings import Settings

from .auth_support import ACTOR, PASSWORD, FakeClock, sign_in
from .factories import make_catalog
from .steward_support import Caller, texts

EMAILS = {
    "admin": "ada@example.com",
    "admin2": "bob@example.com",
    "regional_admin": "rada@example.com",
    "executive": "eve@example.com",
    "steward": "sam@example.com",
    "other": "otto@example.com",
    "no_role": "nora@example.com",
}
"""A company (``acme``) with regions ``unit2`` and ``unit3``: company-wide admins Ada and Bob,
Rada admin of unit2, Eve executive of unit2, Sam steward of the company, Otto executive of
unit3, Nora with no role (unit2)."""
SPECS = {
    "admin": ("Ada Admin", ("admin",), ("acme",)),
    "admin2": ("Bob Admin", ("admin",), ("acme",)),
    "regional_admin": ("Rada Regional", ("admin",), ("unit2",)),
    "executive": ("Eve Executive", ("executive",), ("unit2",)),
    "steward": ("Sam Steward", ("steward",), ("acme",)),
    "other": ("Otto Other", ("executive",), ("unit3",)),
    "no_role": ("Nora Norole", (), ("unit2",)),
}
LINK = re.compile(r"https?://[^/\s\"]+(/invite/[A-Za-z0-9_-]+)")


@dataclass
class Console:
    app: Flask
    db: Engine
    clock: FakeClock
    users: dict[str, int]
    units: dict[str, int]
    roles: dict[str, int]

    def client(self, who: str | None, address: str = "10.0.0.1") -> FlaskClient:
        """A client signed in as ``who`` (a key of :data:`EMAILS`); anonymous for None."""
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        if who is not None:
            response = sign_in(client, email=EMAILS[who], password=PASSWORD)
            assert response.status_code == 303, who
        return client

    def caller(self, who: str) -> Caller:
        return Caller(self.client(who))

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now, dt.UTC)


def seed(engine: Engine) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    make_catalog(engine, children=2)
    with Session(engine) as session, session.begin():
        for role in ROLES:
            upsert_role(session, role, ACTOR)
        users = {
            who: create_user(
                session, UserSpec(EMAILS[who], name, roles, scopes), PASSWORD, ACTOR
            ).id
            for who, (name, roles, scopes) in SPECS.items()
        }
    with engine.connect() as connection:
        units = {
            str(k): int(i) for k, i in connection.execute(text("SELECT key, id FROM org_units"))
        }
        roles = {str(k): int(i) for k, i in connection.execute(text("SELECT key, id FROM roles"))}
    return users, units, roles


@pytest.fixture
def console(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[Console]:
    users, units, roles = seed(db)
    clock = FakeClock()
    unthrottled = settings.model_copy(update={"rate_limit_enabled": False})
    app = create_app(unthrottled, clock=clock)
    yield Console(app, db, clock, users, units, roles)
    app.extensions["northstar"].close()


def answer_text(caller: Caller, output_id: str, *values: Any) -> str:
    """What the callback writing ``output_id`` shows, all its outputs' text joined."""
    return texts(caller.answer(output_id, *values))


def invite_path(shown: str) -> str:
    """The ``/invite/<token>`` path of the one-time link a callback showed."""
    found = LINK.search(shown)
    assert found is not None, shown
    return found[1]


def rows(db: Engine, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with db.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(text(sql), params or {})]


def role_id(db: Engine, key: str) -> int:
    (found,) = rows(db, "SELECT id FROM roles WHERE key = :k", {"k": key})
    return int(found["id"])


def permissions_of(db: Engine, key: str) -> list[str]:
    found = rows(
        db,
        "SELECT CAST(rp.permission AS text) AS p FROM role_permissions rp "
        "JOIN roles r ON r.id = rp.role_id WHERE r.key = :k ORDER BY 1",
        {"k": key},
    )
    return [r["p"] for r in found]


def audits(db: Engine, action: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT actor, actor_id, action, target_type, target_id, before, after, detail, at "
        "FROM audit_log WHERE action = :a ORDER BY id",
        {"a": action},
    )


def grants(db: Engine, user_id: int) -> dict[str, list[str]]:
    """The user's role keys and scope unit keys."""
    found = rows(
        db,
        "SELECT ARRAY(SELECT r.key FROM user_roles ur JOIN roles r ON r.id = ur.role_id "
        "  WHERE ur.user_id = :u ORDER BY 1) AS roles, "
        "ARRAY(SELECT o.key FROM user_scopes us JOIN org_units o ON o.id = us.org_unit_id "
        "  WHERE us.user_id = :u ORDER BY 1) AS scopes",
        {"u": user_id},
    )[0]
    return {"roles": list(found["roles"]), "scopes": list(found["scopes"])}


ADMIN_TABLES = (
    "users",
    "user_roles",
    "user_scopes",
    "roles",
    "role_permissions",
    "invitations",
    "access_reviews",
    "access_review_items",
    "audit_log",
)


def snapshot(db: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row the admin console could change (grant use left out: requests move it)."""
    found = {}
    for table in ADMIN_TABLES:
        taken = rows(db, f"SELECT * FROM {table} ORDER BY 1, 2")
        for row in taken:
            row.pop("last_used_at", None)
            row.pop("last_login_at", None)
        found[table] = taken
    return found


def page_text(caller: Caller, path: str, search: str = "") -> str:
    return caller.page(path, search)
