"""Shared support of the sign-in and hardening tests: users, a movable clock, an app, sign-in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from dashboard.app import create_app
from dashboard.security import SESSION_COOKIE_DEV
from ingest.demo.catalog import ROLES
from models.accounts import UserSpec, create_user, upsert_role
from models.audit import Actor
from models.settings import Settings

from .factories import make_catalog

PASSWORD = "correct horse battery staple"
GLOBAL = "grace@example.com"
REGIONAL = "elena@example.com"
ACTOR = Actor("system:tests")
COOKIE = SESSION_COOKIE_DEV


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Site:
    app: Flask
    clock: FakeClock
    user_ids: dict[str, int]

    def client(self, address: str = "10.0.0.1") -> FlaskClient:
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client


def add_users(engine: Engine) -> dict[str, int]:
    """A company (unit 1, key acme) with regions unit2 and unit3; a global and a regional user."""
    make_catalog(engine, children=2)
    with Session(engine) as session, session.begin():
        for spec in ROLES:
            upsert_role(session, spec, ACTOR)
        users = [
            UserSpec(GLOBAL, "Grace Global", ("executive",), ("acme",)),
            UserSpec(REGIONAL, "Elena Region", ("executive",), ("unit2",)),
        ]
        made = {spec.email: create_user(session, spec, PASSWORD, ACTOR) for spec in users}
        return {email: user.id for email, user in made.items()}


@pytest.fixture
def site(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[Site]:
    user_ids = add_users(db)
    clock = FakeClock()
    app = create_app(settings, clock=clock)
    yield Site(app, clock, user_ids)
    app.extensions["northstar"].close()


def sign_in(
    client: FlaskClient, email: str = GLOBAL, password: str = PASSWORD, next_path: str = "/"
) -> TestResponse:
    return client.post("/login", data={"email": email, "password": password, "next": next_path})


def page_request(pathname: str, search: str = "") -> dict[str, Any]:
    """The body the browser posts to render a page: Dash's page-router callback."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
