"""The source admin page's pull card through HTTP: pull settings saved (audited, the target's
password masked and kept), refused values changing nothing, and a test pull that fetches and
checks a producer's records against the contract while storing nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from dashboard.admin.source_forms import SOURCE_IDS
from dashboard.admin.source_pull_form import PULL_IDS
from integration.admin.test_admin_sources import order, source_row
from integration.admin_data_support import ADA, REX, World, post, text_of, world
from integration.drain_support import services
from integration.ingest.test_pull import Endpoint, endpoint
from models.enums import RefreshMode
from models.sources import Source

__all__ = ["endpoint", "services", "world"]  # fixtures

P = PULL_IDS
VIEW_OUT = [
    (P["view-note"], "children"),
    (P["kind"], "value"),
    (P["target"], "value"),
    (P["query"], "value"),
    (P["interval"], "value"),
]
SAVE_OUT = [(P["note"], "children"), (P["saved"], "data")]
SAVE_STATE = [(SOURCE_IDS["params"], "data")] + [
    (P[name], "value") for name in ("kind", "target", "query", "interval")
]
SECRET_URL = "postgresql://reader:s3cr3t-pw@db.example.com/shop"
MASKED_URL = "postgresql://reader:***@db.example.com/shop"


@pytest.fixture
def pulled(world: World) -> World:
    """``orders`` made a microbatch source (only those and scheduled ones are pulled)."""
    with Session(world.engine) as session, session.begin():
        session.execute(
            update(Source).where(Source.key == "orders").values(refresh_mode=RefreshMode.MICROBATCH)
        )
    return world


def view(client: FlaskClient, key: str) -> list[Any]:
    inputs = [(SOURCE_IDS["params"], "data"), (P["saved"], "data")]
    answer = post(client, VIEW_OUT, inputs, [{"key": key}, None])
    return [answer[P[n]]["value"] for n in ("kind", "target", "query", "interval")]


def save(
    client: FlaskClient, key: str, kind: Any, target: Any, query: Any = "", interval: Any = None
) -> dict[str, Any]:
    values = [1, {"key": key}, kind, target, query, interval]
    return post(client, SAVE_OUT, [(P["save"], "n_clicks")], values, state=SAVE_STATE)


def try_pull(client: FlaskClient, key: str) -> str:
    inputs = [(P["test"], "n_clicks")]
    answer = post(
        client, [(P["tested"], "children")], inputs, [1, {"key": key}],
        state=[(SOURCE_IDS["params"], "data")],
    )  # fmt: skip
    return text_of(answer)


def test_an_http_pull_is_saved_audited_and_test_pulled_without_storing(
    pulled: World, endpoint: tuple[Endpoint, str]
) -> None:
    state, url = endpoint
    state.records = [order("p-1"), order("p-2"), order("p-3", amount=5000)]
    ada = pulled.client(ADA)
    assert view(ada, "orders") == ["none", "", "", None]

    assert "Saved" in text_of(save(ada, "orders", "http", url, "", 120))
    audit = pulled.audits("source.update")[-1]
    assert audit.before == dict.fromkeys(("pull_kind", "pull_target", "pull_interval_s"))
    assert audit.after == {"pull_kind": "http", "pull_target": url, "pull_interval_s": 120}
    assert view(ada, "orders") == ["http", url, "", 120]

    found = try_pull(ada, "orders")
    assert "3 records fetched, 2 valid, 1 would be quarantined" in found
    assert "amount: max, 1 records" in found
    assert "5000" not in found  # counts by field and rule, never a record's values
    assert (pulled.count("events"), pulled.count("quarantine")) == (0, 0)
    stored = source_row(pulled, "orders")
    assert (stored.pull_watermark, stored.last_pulled_at) == (None, None)

    assert "Saved" in text_of(save(ada, "orders", "none", url))
    assert view(ada, "orders") == ["none", "", "", None]
    assert "not pulled" in try_pull(ada, "orders")


def test_a_database_password_is_shown_masked_kept_and_never_audited(pulled: World) -> None:
    ada = pulled.client(ADA)
    query = "SELECT * FROM orders WHERE ts > :watermark"
    assert "Saved" in text_of(save(ada, "orders", "sql", SECRET_URL, query))
    assert view(ada, "orders") == ["sql", MASKED_URL, query, None]

    assert "Saved: pull_interval_s" in text_of(save(ada, "orders", "sql", MASKED_URL, query, 60))
    assert source_row(pulled, "orders").pull_target == SECRET_URL
    moved = "postgresql://reader:***@elsewhere.example.com/shop"
    assert "the password is masked" in text_of(save(ada, "orders", "sql", moved, query))
    audits = [[a.before, a.after] for a in pulled.audits("source.update")]
    assert "s3cr3t" not in text_of(audits)


def test_a_test_pull_of_a_source_whose_agreement_expired_is_refused(
    pulled: World, endpoint: tuple[Endpoint, str]
) -> None:
    state, url = endpoint
    ada = pulled.client(ADA)
    assert "Saved" in text_of(save(ada, "orders", "http", url))
    with Session(pulled.engine) as session, session.begin():
        session.execute(
            update(Source)
            .where(Source.key == "orders")
            .values(
                partner_agreement_ref="SHOP-DPA-3",
                partner_agreement_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            )
        )
    found = try_pull(ada, "orders")
    assert "Test pull refused: SHOP-DPA-3 of source 'orders' expired at" in found
    assert state.seen_since == []  # the partner was not asked


def test_refused_pull_settings_and_callers_change_nothing(
    pulled: World, endpoint: tuple[Endpoint, str]
) -> None:
    _, url = endpoint
    ada = pulled.client(ADA)
    before = pulled.audit_total()
    cases = [
        (("ftp", url), "choose the pull kind"),
        (("http", "file:///etc/passwd"), "http:// or https://"),
        (("sql", SECRET_URL, ""), "an sql pull needs a query"),
        (("http", url, "", 0), "interval_s"),
        (("http", url, "", "often"), "the pull interval must be a whole number"),
        (("http", "https://a.example\n/x"), "control characters"),
    ]
    for values, reason in cases:
        assert reason in text_of(save(ada, "orders", *values)), values
    streaming = save(ada, "returns", "http", url)  # returns streams
    assert "no such source in your scope" not in text_of(streaming)
    assert "this one is streaming" in text_of(streaming)
    rex = pulled.client(REX)  # the east only; orders belongs to acme
    assert "no such source in your scope" in text_of(save(rex, "orders", "http", url))
    assert "no such source in your scope" in try_pull(rex, "orders")
    assert pulled.audit_total() == before
    assert source_row(pulled, "orders").pull_kind is None
