"""The production path of the README, end to end, from an empty database with demo mode off.

The commands run as the operator runs them (``northstar …`` in a process of its own); events
go through the ingest API and a real RQ burst worker; the regional executive reads her KPIs
through the read API with a token the command line made; the admin signs in through the form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import Engine

from dashboard.app import create_app
from ingest import jobs
from ingest.worker import QUEUES, make_worker
from integration.auth_support import FakeClock
from integration.bootstrap.fresh_install_support import (
    ADMIN,
    ADMIN_PASSWORD,
    BASKET_NORTH,
    EXECUTIVE,
    EXECUTIVE_PASSWORD,
    REVENUE_PER_DAY_NORTH,
    SE_QUARTER_REVENUE,
    catalogue,
    month_seconds,
    northstar,
    quarter_seconds,
)
from integration.drain_support import TEST_SETTINGS
from integration.factories import admin_engine, scratch_database
from models import migrate
from models.settings import Settings

SALES = (  # (unit, amount): Nordics 100 + 80 + 90 in 3 tickets, Iberia 1000 in one
    ("se", 100.0),
    ("se", 80.0),
    ("no", 90.0),
    ("es", 1000.0),
)


class Install:
    """The scratch database's URL for the commands, and settings for the app and worker."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.url = engine.url.render_as_string(hide_password=False)
        self.settings = settings.model_copy(update={"database_url": self.url, **TEST_SETTINGS})

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = northstar(self.url, self.settings.redis_url, *args, stdin=stdin)
        assert done.returncode == 0, f"northstar {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout


@pytest.fixture
def install(settings: Settings, redis_client: redis.Redis) -> Iterator[Install]:
    with admin_engine(settings) as admin, scratch_database(admin, "fresh") as engine:
        yield Install(engine, settings)
    jobs.init_services(settings)


def drain(settings: Settings) -> None:
    """What the worker process does: the ingest queues, in burst mode."""
    services = jobs.init_services(settings)
    make_worker(QUEUES, services.redis).work(burst=True, logging_level="WARNING")


def events(now: dt.datetime) -> list[dict[str, Any]]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    moment = max(midnight, now - dt.timedelta(seconds=5)).replace(microsecond=0)
    return [
        {"sale_id": f"t-{n}", "ts": moment.isoformat(), "org_unit": unit, "amount": amount,
         "channel": "store"}
        for n, (unit, amount) in enumerate(SALES)
    ]  # fmt: skip


def read(app: Flask, token: str, path: str, **query: str) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get(
        f"/api/v1{path}", query_string=query, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code, response.json or {}


def covered_s(body: dict[str, Any]) -> float:
    """Seconds the answered period covers (``today``: midnight to the end of the minute)."""
    start, end = (dt.datetime.fromisoformat(body["period"][k]) for k in ("start", "end"))
    return (end - start).total_seconds()


def test_a_fresh_install_serves_a_regional_executive_her_own_numbers(
    install: Install, tmp_path: Any
) -> None:
    (head,) = migrate.heads()
    assert f"is at migration {head}" in install.run("db", "upgrade")
    today = dt.datetime.now(dt.UTC).date()
    catalog_file = tmp_path / "northwind.yaml"
    catalog_file.write_text(catalogue(today), encoding="utf-8")
    applied = install.run("catalog", "apply", str(catalog_file))
    assert "create north: " in applied
    assert "create revenue: " in applied
    install.run(
        "users", "create", "--email", ADMIN, "--name", "Olga Admin", "--role", "admin",
        "--scope", "northwind", "--password-stdin", stdin=f"{ADMIN_PASSWORD}\n",
    )  # fmt: skip
    install.run(
        "users", "create", "--email", EXECUTIVE, "--name", "Nils North", "--role", "executive",
        "--scope", "north", "--password-stdin", stdin=f"{EXECUTIVE_PASSWORD}\n",
    )  # fmt: skip
    api_key = install.run("sources", "create-key", "sales", "--label", "tills").strip()
    token = install.run("tokens", "create", "--email", EXECUTIVE, "--name", "sheet").strip()
    assert api_key.startswith("ns_")
    assert token.startswith("nsp_")

    app = create_app(install.settings, clock=FakeClock())
    try:
        posted = app.test_client().post(
            "/api/v1/sources/sales/events",
            json=events(dt.datetime.now(dt.UTC)),
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert posted.status_code == 202, posted.text
        assert (posted.json or {})["accepted"] == len(SALES)
        drain(install.settings)

        status, body = read(app, token, "/kpis", unit="north", period="today")
        assert status == 200, body
        assert body["unit"] == {"key": "north", "name": "Nordics", "level": "region"}
        kpis = {k["key"]: k for k in body["kpis"]}
        assert set(kpis) == {"revenue", "avg_basket"}
        revenue, basket = kpis["revenue"], kpis["avg_basket"]
        assert revenue["value"] == pytest.approx(270.0)  # Spain's 1000 is not hers
        # Her region's own monthly plan (not the company's equal split), pro-rated to today.
        day_share = covered_s(body) / 86400.0
        assert revenue["target_basis"] == "own"
        assert revenue["target"] == pytest.approx(REVENUE_PER_DAY_NORTH * day_share, rel=1e-6)
        assert revenue["status"] == "on target"
        assert basket["value"] == pytest.approx(90.0)  # 270 EUR over 3 tickets
        assert basket["target_basis"] == "own"
        assert basket["target"] == pytest.approx(BASKET_NORTH)  # a ratio: the plan as is
        assert basket["status"] == "warning"  # 90 is under 95 % of 100, over 85 %

        status, sweden = read(app, token, "/kpis/revenue", unit="se", period="today")
        assert status == 200, sweden
        assert sweden["value"] == pytest.approx(180.0)
        assert sweden["target_basis"] == "own"
        assert sweden["target"] == pytest.approx(
            SE_QUARTER_REVENUE * covered_s(sweden) / quarter_seconds(today), rel=1e-6
        )
        assert sweden["status"] == "critical"

        status, norway = read(app, token, "/kpis/revenue", unit="no", period="today")
        assert status == 200, norway
        assert norway["value"] == pytest.approx(90.0)
        assert norway["target_basis"] == "equal"  # half of the Nordics' plan (2 countries)
        month_target = REVENUE_PER_DAY_NORTH * month_seconds(today) / 86400.0
        assert norway["target"] == pytest.approx(
            month_target / 2 * covered_s(norway) / month_seconds(today), rel=1e-6
        )
        status, norway = read(app, token, "/kpis/avg_basket", unit="no", period="today")
        assert (status, norway["target_basis"], norway["status"]) == (200, "none", "no target")

        for path in ("/kpis", "/kpis/revenue"):
            status, refused = read(app, token, path, unit="south", period="today")
            assert (status, refused["error"]) == (403, "forbidden")
            assert "'south'" in refused["reason"]

        signed_in = app.test_client().post(
            "/login", data={"email": ADMIN, "password": ADMIN_PASSWORD, "next": "/"}
        )
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["Location"] == "/"
    finally:
        app.extensions["northstar"].close()

    checked = install.run("catalog", "apply", "--check", str(catalog_file))
    assert checked.strip() == "no changes"
