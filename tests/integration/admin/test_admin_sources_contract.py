"""A new contract version from the admin page: checked with clear messages, diffed against the
current version, previewed over recent records, saved (audited); the preview's counts match
what a real ingest of the same records does under the new version."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text

from dashboard.admin.source_contract import CONTRACT_IDS
from dashboard.admin.source_forms import SOURCE_IDS
from ingest.contract_preview import ContractPreview, preview_contract
from integration.admin.test_admin_sources import order
from integration.admin_data_support import ADA, World, order_fields, post, text_of, world
from integration.drain_support import run_burst_worker, services
from models.contracts import Contract
from models.queries.common import read_connection

__all__ = ["services", "world"]  # fixtures

C = CONTRACT_IDS
PARAMS = (SOURCE_IDS["params"], "data")
VIEW_OUT = [(C["current"], "children"), (C["editor"], "value"), (C["base"], "data")]
CHECK_OUT = [(C["preview"], "children"), (C["preview-store"], "data"), (C["save"], "disabled")]
CHECK_IN = [(C["check"], "n_clicks"), (C["saved"], "data")]
CHECK_STATE = [PARAMS, (C["editor"], "value"), (C["base"], "data")]
SAVE_OUT = [(C["save-note"], "children"), (C["saved"], "data")]
SAVE_STATE = [PARAMS, (C["editor"], "value"), (C["note"], "value"), (C["base"], "data")]
SAVE_STATE.append((C["preview-store"], "data"))

RECORDS: list[Any] = [
    order("ok-1", amount=50, items=2, channel="web", email="a@x.example"),
    order("ok-2", amount=90, unit="east", channel="app", email="b@x.example"),
    order("noemail", amount=10),
    order("many", amount=10, items=20, email="c@x.example"),
    order("big-1", amount=150, email="d@x.example"),
    order("huge", amount=5000, email="e@x.example"),
    order("store", channel="store", email="f@x.example"),
    order("lost", unit="atlantis", email="g@x.example"),
    order("typed", items="2", email="h@x.example"),
    order("zero", items=0, email="i@x.example"),
    '{"order_id": "broken", ',
]
"""Under version 1 (amount at most 100, channel web or app, e-mail optional, items at least
1) four are stored (ok-1, ok-2, noemail, many); the rest are quarantined, "lost" by the
worker (its unit does not exist) and "broken" as unreadable JSON."""


def version_two() -> list[dict[str, Any]]:
    """Amount up to 1000, a store channel, e-mail required, at most 10 items."""
    fields = []
    for spec in order_fields(1000, ("web", "app", "store")):
        if spec.name == "email":
            spec = spec.model_copy(update={"required": True})
        if spec.name == "items":
            spec = spec.model_copy(update={"max": 10.0})
        fields.append(spec.model_dump(mode="json", exclude_defaults=True))
    return fields


def contract_view(client: FlaskClient) -> dict[str, Any]:
    return post(client, VIEW_OUT, [PARAMS, (C["saved"], "data")], [{"key": "orders"}, None])


def check(client: FlaskClient, typed: str, base: Any) -> dict[str, Any]:
    values = [1, None, {"key": "orders"}, typed, base]
    return post(client, CHECK_OUT, CHECK_IN, values, state=CHECK_STATE)


def save(client: FlaskClient, typed: str, base: Any, previewed: Any) -> dict[str, Any]:
    values = [1, {"key": "orders"}, typed, "store channel, e-mail required", base, previewed]
    return post(client, SAVE_OUT, [(C["save"], "n_clicks")], values, state=SAVE_STATE)


def by_rule(preview: ContractPreview) -> Counter[str]:
    counted: Counter[str] = Counter()
    for tally in (preview.events, preview.quarantine):
        for (_field, rule), n in tally.failures.items():
            counted[rule] += n
    return counted


def test_the_editor_explains_what_is_wrong_with_a_contract(world: World) -> None:
    ada = world.client(ADA)
    started = contract_view(ada)
    assert started[C["base"]]["data"] == 1
    assert json.loads(started[C["editor"]]["value"])[0]["name"] == "order_id"
    assert "Contract (current version 1)" in text_of(started[C["current"]])

    broken = text_of(check(ada, '[{"name": "order_id",', 1))
    assert "not valid JSON" in broken
    assert "line 1" in broken
    fields = version_two()
    del fields[3]["role"]
    fields[4]["type"] = "decimal"
    answer = check(ada, json.dumps(fields), 1)
    shown = text_of(answer)
    assert "field 4 ('amount'): role: Field required" in shown
    assert "field 5 ('items'): type: Input should be" in shown
    assert answer[C["save"]]["disabled"] is True
    assert answer[C["preview-store"]]["data"] is None
    no_time = [f for f in version_two() if f["name"] != "ts"]
    assert "exactly one timestamp field, has 0" in text_of(check(ada, json.dumps(no_time), 1))
    enum = [*version_two(), {"name": "tier", "type": "enum", "role": "dimension"}]
    assert "enum field 'tier' needs allowed values" in text_of(check(ada, json.dumps(enum), 1))
    nul = [*version_two()[:-1], {**version_two()[-1], "description": "a\u0000b"}]
    assert "must not contain NUL" in text_of(check(ada, json.dumps(nul), 1))
    assert world.count("source_contracts") == 2  # orders and returns, version 1 each


def test_the_preview_matches_a_real_ingest_of_the_same_records_under_the_new_version(
    world: World,
) -> None:
    first = world.ingest("orders", RECORDS)
    assert first.status_code == 202
    assert first.get_json()["rejected"] == 6
    run_burst_worker(world.services)
    assert world.count("events") == 4
    assert world.count("quarantine") == 7

    ada = world.client(ADA)
    typed = json.dumps(version_two(), indent=2)
    answer = check(ada, typed, 1)
    shown = text_of(answer)
    assert answer[C["save"]]["disabled"] is False
    assert "Version 2, against version 1: 4 changes" in shown
    assert "Of the 4 stored events checked: 2 would pass, 2 would fail." in shown
    assert "Of the 6 quarantined records checked: 2 would pass, 4 would fail" in shown
    assert "(1 more cannot be checked: not valid JSON)" in shown
    assert "'email' is missing" in shown  # a reason, per field and rule

    with read_connection(world.engine, world.services.settings) as connection:
        source_id = connection.execute(text("SELECT id FROM sources WHERE key = 'orders'"))
        proposed = Contract.from_row(2, version_two())
        preview = preview_contract(
            connection, source_id.scalar_one(), "orders", proposed, limit=1000
        )
    expected_pass = preview.events.passed + preview.quarantine.passed
    assert expected_pass == 4
    assert by_rule(preview) == Counter(
        {"required": 1, "max": 2, "type": 1, "min": 1, "unknown_org_unit": 1}
    )

    # Saving needs the text just previewed; then it is audited with before and after.
    previewed = answer[C["preview-store"]]["data"]
    assert "check and preview" in text_of(save(ada, typed + " ", 1, previewed))
    saved = save(ada, typed, 1, previewed)
    assert "Saved version 2" in text_of(saved)
    audit = world.audits("source_contract.create")[-1]
    assert audit.actor_id == world.users[ADA]
    assert audit.before is not None
    assert audit.before["version"] == 1
    assert audit.after is not None
    assert audit.after["version"] == 2
    assert {f["name"]: f["required"] for f in audit.after["fields"]}["email"] is True
    assert "another contract version was saved" in text_of(save(ada, typed, 1, previewed))
    with world.engine.connect() as connection:
        unit = connection.execute(text("SELECT unit FROM metrics WHERE key = 'orders.amount'"))
        assert unit.scalar_one() == "EUR"  # a new version keeps the measures' units

    # The same records, posted again, fare exactly as previewed.
    again = world.ingest("orders", RECORDS)
    assert again.status_code == 202
    body = again.get_json()
    run_burst_worker(world.services)
    with world.engine.connect() as connection:
        late = connection.execute(
            text("SELECT rule FROM quarantine WHERE batch_id = CAST(:batch AS uuid)"),
            {"batch": body["batch_id"]},
        ).scalars()
        worker_rules = Counter(r for r in late if r == "unknown_org_unit")
    edge_rules = Counter(e["rule"] for e in body["errors"])
    assert edge_rules.pop("json") == preview.quarantine.unreadable
    assert body["accepted"] - sum(worker_rules.values()) == expected_pass
    assert edge_rules + worker_rules == by_rule(preview)
