"""The source admin page's access card through HTTP: sensitivity, active flag and partner
agreement edited (audited with before and after), refused values changing nothing, and the
ingest API refusing a source whose agreement expired, at once, until it is renewed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.testing import FlaskClient

from dashboard.admin.source_access_form import ACCESS_IDS
from dashboard.admin.source_forms import SOURCE_IDS
from integration.admin.test_admin_sources import order, source_row
from integration.admin_data_support import ADA, EVE, REX, World, post, text_of, world
from integration.drain_support import services

__all__ = ["services", "world"]  # fixtures

A = ACCESS_IDS
VIEW_OUT = [
    (A["agreement-state"], "children"),
    (A["sensitivity"], "value"),
    (A["active"], "value"),
    (A["agreement-ref"], "value"),
    (A["agreement-expires"], "value"),
]
SAVE_OUT = [(A["note"], "children"), (A["saved"], "data")]
SAVE_STATE = [(SOURCE_IDS["params"], "data")] + [
    (A[name], "value") for name in ("sensitivity", "active", "agreement-ref", "agreement-expires")
]
TODAY = dt.datetime.now(dt.UTC).date()


def view(client: FlaskClient, key: str) -> dict[str, Any]:
    inputs = [(SOURCE_IDS["params"], "data"), (A["saved"], "data")]
    return post(client, VIEW_OUT, inputs, [{"key": key}, None])


def save(
    client: FlaskClient, key: str, sensitivity: Any, active: Any, ref: Any, expires: Any
) -> dict[str, Any]:
    values = [1, {"key": key}, sensitivity, active, ref, expires]
    return post(client, SAVE_OUT, [(A["save"], "n_clicks")], values, state=SAVE_STATE)


def shown(answer: dict[str, Any]) -> list[Any]:
    return [answer[A[n]]["value"] for n in ("sensitivity", "active", "agreement-ref")] + [
        answer[A["agreement-expires"]]["value"]
    ]


def test_an_expired_agreement_set_by_the_admin_stops_ingestion_until_renewed(
    world: World,
) -> None:
    ada = world.client(ADA)
    assert shown(view(ada, "orders")) == ["internal", True, "", None]
    assert world.ingest("orders", [order("o-1")]).status_code == 202

    yesterday = f"{TODAY - dt.timedelta(days=1):%Y-%m-%d}"
    answer = save(ada, "orders", "confidential", True, " SHOP-DPA-1 ", yesterday)
    assert "Saved" in text_of(answer)
    update = world.audits("source.update")[-1]
    assert update.actor_id == world.users[ADA]
    assert update.before == {
        "sensitivity": "internal",
        "partner_agreement_ref": None,
        "partner_agreement_expires_at": None,
    }
    assert update.after is not None
    assert (update.after["sensitivity"], update.after["partner_agreement_ref"]) == (
        "confidential",
        "SHOP-DPA-1",
    )
    stored = source_row(world, "orders")
    assert stored.partner_agreement_expires_at == dt.datetime.combine(
        TODAY - dt.timedelta(days=1), dt.time(23, 59, 59), dt.UTC
    )
    page = view(ada, "orders")
    assert shown(page) == ["confidential", True, "SHOP-DPA-1", yesterday]
    assert "SHOP-DPA-1 expired at" in text_of(page[A["agreement-state"]])

    refused = world.ingest("orders", [order("o-2")])  # the very next request
    assert refused.status_code == 403
    body = refused.json or {}
    assert body["error"] == "partner_agreement_expired"
    assert f"SHOP-DPA-1 of source 'orders' expired at {yesterday} 23:59 UTC" in body["message"]

    next_year = f"{TODAY + dt.timedelta(days=365):%Y-%m-%d}"
    assert "Saved" in text_of(save(ada, "orders", "confidential", True, "SHOP-DPA-2", next_year))
    assert world.ingest("orders", [order("o-3")]).status_code == 202
    assert "runs until" in text_of(view(ada, "orders")[A["agreement-state"]])


def test_deactivating_a_source_refuses_its_records_and_reactivating_takes_them_again(
    world: World,
) -> None:
    ada = world.client(ADA)
    assert "Saved: active" in text_of(save(ada, "orders", "internal", False, "", None))
    refused = world.ingest("orders", [order("o-1")])
    assert (refused.status_code, (refused.json or {})["error"]) == (403, "forbidden")
    assert "Inactive" in text_of(view(ada, "orders")[A["agreement-state"]])
    assert "Saved: active" in text_of(save(ada, "orders", "internal", True, "", None))
    assert world.ingest("orders", [order("o-2")]).status_code == 202
    assert "Nothing changed" in text_of(save(ada, "orders", "internal", True, None, ""))


def test_refused_values_and_callers_change_nothing(world: World) -> None:
    ada = world.client(ADA)
    before = world.audit_total()
    cases = [
        (("internal", True, "DPA", "30/06/2030"), "must be a date such as 2028-12-31"),
        (("internal", True, "DPA", "2030-02-30"), "not a date of the calendar"),
        (("internal", True, "", "2030-06-30"), "needs the agreement's reference"),
        (("internal", True, "x" * 201, None), "at most 200 characters"),
        (("internal", True, "DPA\n1", None), "control characters"),
        (("secret", True, "", None), "choose the sensitivity"),
        (("internal", "yes", "", None), "the active switch is malformed"),
    ]
    for values, reason in cases:
        assert reason in text_of(save(ada, "orders", *values)), values
    # Rex administers the east only; Eve is an executive.
    assert "no such source in your scope" in text_of(
        save(world.client(REX), "orders", "internal", False, "", None)
    )
    assert "no such source in your scope" in text_of(view(world.client(REX), "orders"))
    assert "source:manage" in text_of(save(world.client(EVE), "orders", "pii", False, "", None))
    assert world.audit_total() == before
    stored = source_row(world, "orders")
    assert (stored.active, stored.sensitivity.value, stored.partner_agreement_ref) == (
        True,
        "internal",
        None,
    )
