"""The quarantine browser through HTTP: filters, masked payloads, replay after a contract fix
(previewed first, drained by a real burst worker), discard with a reason, and refusals.

The records are quarantined by the real path: posted to the ingest API with a source key, then
drained by an rq burst worker (edge rejections, and a record whose org unit is unknown).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from dashboard.app import create_app
from dashboard.steward.quarantine_layout import IDS
from ingest.runtime import Services
from ingest.sources_cache import bump_catalog_version
from integration.auth_support import ACTOR, PASSWORD, FakeClock, page_request, sign_in
from integration.drain_support import TEST_SETTINGS, run_burst_worker, services
from integration.steward_support import prop
from models.accounts import RoleSpec, UserSpec, create_user, upsert_role
from models.api_keys import create_key
from models.catalog import OrgUnitSpec, SourceSpec, ensure_contract, upsert_org_unit, upsert_source
from models.contracts import FieldRole, FieldSpec, FieldType
from models.enums import Classification, OrgLevel, RefreshMode
from models.logs import AuditLog
from models.permissions import Permission
from models.quarantine_actions import TooManyRecords, discard_matching
from models.queries.common import QueryTooLarge
from models.queries.masking import MASK
from models.queries.principals import load_principal
from models.queries.steward.quarantine_view import QuarantineFilter, quarantine_page
from models.settings import Settings
from models.sources import Source

__all__ = ["services"]  # fixture

UPDATE = "/_dash-update-component"
PII = "alice@pii-quarantine.example"
PII_IN_RAW = "bob@pii-quarantine.example"
MARGIN = 4242.4242
EAST_MARKER = "eastonly"
NOW = dt.datetime.now(dt.UTC)
EVENT_TS = (NOW - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

ROLES = (
    RoleSpec("executive", "Executive", frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW})),
    RoleSpec(
        "steward",
        "Steward",
        frozenset(
            {
                Permission.KPI_VIEW,
                Permission.EVENT_VIEW,
                Permission.PII_VIEW,
                Permission.INCIDENT_MANAGE,
                Permission.QUARANTINE_MANAGE,
            }
        ),
    ),
    RoleSpec(
        "clerk",
        "Quarantine clerk",
        frozenset({Permission.KPI_VIEW, Permission.QUARANTINE_MANAGE}),
        builtin=False,
    ),
    RoleSpec(
        "responder",
        "Incident responder",
        frozenset({Permission.KPI_VIEW, Permission.INCIDENT_MANAGE}),
        builtin=False,
    ),
    RoleSpec(
        "auditor",
        "Quarantine auditor",
        frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW, Permission.QUARANTINE_MANAGE}),
        builtin=False,
    ),
)
SAM, RITA, WES, EVE, CLEO, AUDE, NORA, IAN = (
    "sam@example.com",
    "rita@example.com",
    "wes@example.com",
    "eve@example.com",
    "cleo@example.com",
    "aude@example.com",
    "nora@example.com",
    "ian@example.com",
)
USERS = (
    UserSpec(SAM, "Sam Steward", ("steward",), ("acme",)),
    UserSpec(RITA, "Rita East", ("steward",), ("east",)),
    UserSpec(WES, "Wes West", ("steward",), ("west",)),
    UserSpec(EVE, "Eve Executive", ("executive",), ("acme",)),
    UserSpec(CLEO, "Cleo Clerk", ("clerk",), ("acme",)),
    UserSpec(AUDE, "Aude Auditor", ("auditor",), ("acme",)),
    UserSpec(NORA, "Nora Norole", (), ("acme",)),
    UserSpec(IAN, "Ian Incidents", ("responder",), ("acme",)),
)


def order_fields(max_amount: float) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(name="order_id", type=FieldType.STRING, role=FieldRole.EVENT_ID),
        FieldSpec(name="ts", type=FieldType.TIMESTAMP, role=FieldRole.TIMESTAMP),
        FieldSpec(name="unit", type=FieldType.STRING, role=FieldRole.ORG_UNIT),
        FieldSpec(name="amount", type=FieldType.FLOAT, role=FieldRole.MEASURE, max=max_amount),
        FieldSpec(
            name="channel",
            type=FieldType.ENUM,
            role=FieldRole.DIMENSION,
            allowed=("web", "app"),
            required=False,
        ),
        FieldSpec(
            name="email",
            type=FieldType.STRING,
            role=FieldRole.ATTRIBUTE,
            classification=Classification.PII,
            pattern=r"^[^@\s]+@[^@\s]+$",
            required=False,
        ),
        FieldSpec(
            name="margin",
            type=FieldType.FLOAT,
            role=FieldRole.ATTRIBUTE,
            classification=Classification.CONFIDENTIAL,
            required=False,
        ),
    )


def source_spec(key: str, owner: str, fields: tuple[FieldSpec, ...]) -> SourceSpec:
    return SourceSpec(
        key=key,
        name=key.title(),
        owner_unit_key=owner,
        refresh_mode=RefreshMode.STREAMING,
        freshness_sla_s=300,
        expected_volume_per_15m=40,
        retention_days=30,
        fields=fields,
        description=f"The {key} feed.",
    )


@dataclass
class World:
    app: Flask
    engine: Engine
    services: Services
    users: dict[str, int]
    sources: dict[str, int]
    keys: dict[str, str]

    def client(self, email: str | None) -> FlaskClient:
        client = self.app.test_client()
        if email is not None:
            assert sign_in(client, email=email, password=PASSWORD).status_code == 303
        return client


def seed(engine: Engine) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """Units acme > west, east; orders (owned by acme, steward Sam) and returns (owned by
    east); the roles and users above; an API key per source."""
    with Session(engine) as session, session.begin():
        upsert_org_unit(session, OrgUnitSpec("acme", "Acme", OrgLevel.COMPANY), ACTOR)
        for key in ("west", "east"):
            upsert_org_unit(session, OrgUnitSpec(key, key.title(), OrgLevel.REGION, "acme"), ACTOR)
        for role in ROLES:
            upsert_role(session, role, ACTOR)
        made = {spec.email: create_user(session, spec, PASSWORD, ACTOR) for spec in USERS}
        orders = upsert_source(
            session, source_spec("orders", "acme", order_fields(100)), ACTOR, steward=made[SAM]
        )
        returns = upsert_source(session, source_spec("returns", "east", order_fields(10)), ACTOR)
        keys = {s.key: create_key(session, s, ACTOR) for s in (orders, returns)}
        session.flush()
        return (
            {email: user.id for email, user in made.items()},
            {"orders": orders.id, "returns": returns.id},
            keys,
        )


def order(order_id: str, amount: Any, unit: str = "west", **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "ts": EVENT_TS,
        "unit": unit,
        "amount": amount,
        "channel": "web",
        "email": PII,
        "margin": MARGIN,
    } | extra


ORDERS_BODY = [
    json.dumps(order("ok-1", 50)),
    json.dumps(order("big-1", 150)),
    json.dumps(order("big-2", 150)),
    json.dumps(order("huge", 5000)),
    json.dumps(order("lost", 20, unit="atlantis")),
    json.dumps(order("typed", "12")),
    json.dumps(order("badmail", 20, email="not-an-email")),
    '{"order_id": "broken", "email": "' + PII_IN_RAW + '"',
]


def post_events(world: World, source: str, lines: Sequence[str]) -> dict[str, Any]:
    response = world.app.test_client().post(
        f"/api/v1/sources/{source}/events",
        data="\n".join(lines) + "\n",
        headers={"Authorization": f"Bearer {world.keys[source]}"},
        content_type="application/x-ndjson",
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


@pytest.fixture
def world(
    db: Engine, redis_client: redis.Redis, settings: Settings, services: Services
) -> Iterator[World]:
    users, sources, keys = seed(db)
    app_settings = settings.model_copy(update=TEST_SETTINGS | {"rate_limit_enabled": False})
    app = create_app(app_settings, clock=FakeClock())
    built = World(app, db, services, users, sources, keys)
    assert post_events(built, "orders", ORDERS_BODY)["rejected"] == 6
    post_events(built, "returns", [json.dumps(order(f"{EAST_MARKER}-1", 99, unit="east"))])
    run_burst_worker(services)
    yield built
    app.extensions["northstar"].close()


def fix_contract(world: World, max_amount: float) -> None:
    """A new contract version for orders (the contract fix), as an admin would make it."""
    with Session(world.engine) as session, session.begin():
        source = session.scalars(select(Source).where(Source.key == "orders")).one()
        ensure_contract(session, source, order_fields(max_amount), ACTOR, note="raise the max")
    bump_catalog_version(world.services.redis)


# --- calling the page's callbacks over HTTP ----------------------------------------------------

Prop = tuple[str, str]
LIST_OUT = [
    (IDS["grid"], "rowData"),
    (IDS["summary"], "children"),
    (IDS["pages"], "max_value"),
    (IDS["pages"], "active_page"),
    (IDS["discard_matching"], "children"),
]
LIST_IN = [
    (IDS["source"], "value"),
    (IDS["match"], "value"),
    (IDS["status"], "value"),
    (IDS["dates"], "start_date"),
    (IDS["dates"], "end_date"),
    (IDS["pages"], "active_page"),
    (IDS["replayed"], "data"),
    (IDS["discarded"], "data"),
]
PREVIEW_OUT = [
    (IDS["preview_store"], "data"),
    (IDS["preview_note"], "children"),
    (IDS["replay"], "disabled"),
    (IDS["replay"], "children"),
]
PREVIEW_IN = [
    (IDS["preview"], "n_clicks"),
    (IDS["source"], "value"),
    (IDS["match"], "value"),
    (IDS["replayed"], "data"),
]
REPLAY_OUT = [(IDS["replay_note"], "children"), (IDS["replayed"], "data")]
REPLAY_IN = [(IDS["replay"], "n_clicks")]
REPLAY_STATE = [
    (IDS["source"], "value"),
    (IDS["match"], "value"),
    (IDS["preview_store"], "data"),
]
DISCARD_OUT = [(IDS["discard_note"], "children"), (IDS["discarded"], "data")]
DISCARD_IN = [
    (IDS["confirm_selected"], "submit_n_clicks"),
    (IDS["confirm_matching"], "submit_n_clicks"),
]
DISCARD_STATE = [
    (IDS["grid"], "selectedRows"),
    (IDS["reason"], "value"),
    (IDS["source"], "value"),
    (IDS["match"], "value"),
    (IDS["status"], "value"),
    (IDS["dates"], "start_date"),
    (IDS["dates"], "end_date"),
]
RECORD_OUT = [(IDS["record"], "children"), (IDS["record_panel"], "is_open")]
RECORD_IN = [(IDS["grid"], "cellClicked")]
CHOICES_OUT = [(IDS["source"], "options"), (IDS["rules"], "children")]
CHOICES_IN = [(IDS["replayed"], "data"), (IDS["discarded"], "data")]


def _deps(props: Sequence[Prop], values: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"id": i, "property": p, "value": v} for (i, p), v in zip(props, values, strict=True)]


def post(
    client: FlaskClient,
    outputs: Sequence[Prop],
    inputs: Sequence[Prop],
    values: Sequence[Any],
    *,
    state: Sequence[Prop] = (),
    changed: Prop | None = None,
) -> dict[str, dict[str, Any]]:
    """Post one callback as the browser does; the answer's outputs by component id."""
    if len(outputs) == 1:
        output: str = f"{outputs[0][0]}.{outputs[0][1]}"
        declared: Any = {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        declared = [{"id": i, "property": p} for i, p in outputs]
    trigger = changed or inputs[0]
    body = {
        "output": output,
        "outputs": declared,
        "inputs": _deps(inputs, values[: len(inputs)]),
        "state": _deps(state, values[len(inputs) :]),
        "changedPropIds": [f"{trigger[0]}.{trigger[1]}"],
    }
    response = client.post(UPDATE, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    if response.status_code == 204:
        return {}
    answer: dict[str, dict[str, Any]] = response.get_json()["response"]
    return answer


def listing(
    client: FlaskClient,
    source: Any = None,
    match: Any = None,
    status: Any = "open",
    start: Any = None,
    end: Any = None,
    page: Any = 1,
    *,
    changed: Prop | None = None,
) -> dict[str, dict[str, Any]]:
    values = [source, match, status, start, end, page, None, None]
    return post(client, LIST_OUT, LIST_IN, values, changed=changed)


def rows(answer: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = answer[IDS["grid"]]["rowData"]
    return found


def text_of(answer: Any) -> str:
    return json.dumps(answer, ensure_ascii=False)


def order_ids(answer: dict[str, dict[str, Any]]) -> set[str]:
    """The order ids in the listed payloads (the broken record by its raw text)."""
    found = set()
    for row in rows(answer):
        try:
            found.add(json.loads(row["payload"])["order_id"])
        except (ValueError, KeyError, TypeError):
            found.add("raw:" + row["payload"][:20])
    return found


def preview(client: FlaskClient, source: Any, match: Any, clicks: Any = 1) -> dict[str, Any]:
    return post(client, PREVIEW_OUT, PREVIEW_IN, [clicks, source, match, None])


def replay(client: FlaskClient, source: Any, match: Any, stored: Any) -> dict[str, Any]:
    return post(client, REPLAY_OUT, REPLAY_IN, [1, source, match, stored], state=REPLAY_STATE)


def discard(
    client: FlaskClient,
    *,
    selected: Any = None,
    reason: Any = "duplicates of a test feed",
    source: Any = None,
    match: Any = None,
    matching: bool = False,
) -> dict[str, Any]:
    clicks = [None, 1] if matching else [1, None]
    trigger = DISCARD_IN[1] if matching else DISCARD_IN[0]
    values = [*clicks, selected, reason, source, match, "open", None, None]
    return post(client, DISCARD_OUT, DISCARD_IN, values, state=DISCARD_STATE, changed=trigger)


def choices(
    client: FlaskClient, replayed: Any = None, discarded: Any = None
) -> tuple[dict[int, str], dict[str, str]]:
    """The filters' choices as read again after a replay (or, given ``discarded``, a discard):
    the source dropdown's labels by source id, the rule suggestions' counts by rule."""
    trigger = CHOICES_IN[0] if discarded is None else CHOICES_IN[1]
    answer = post(client, CHOICES_OUT, CHOICES_IN, [replayed, discarded], changed=trigger)
    labels = {o["value"]: o["label"] for o in answer[IDS["source"]]["options"]}
    rules = {o["props"]["value"]: o["props"]["children"] for o in answer[IDS["rules"]]["children"]}
    return labels, rules


def quarantine(engine: Engine) -> dict[str, tuple[str, str, int | None, int | None, str | None]]:
    """Every record by order id (or raw text): status, rule, contract version, actor, note."""
    with engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT payload, raw, CAST(status AS text), rule, contract_version, acted_by, "
                "note FROM quarantine"
            )
        )
        return {
            (payload or {}).get("order_id", raw): (status, rule, version, by, note)
            for payload, raw, status, rule, version, by, note in found
        }


def record_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        found = connection.execute(text("SELECT id, payload, raw FROM quarantine"))
        return {(p or {}).get("order_id", raw): int(i) for i, p, raw in found}


def stored_events(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(text("SELECT event_id FROM events")).scalars())


def audit_rows(engine: Engine, action: str) -> list[AuditLog]:
    with Session(engine) as session:
        return list(
            session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        )


def alert_of(answer: dict[str, Any], component: str) -> str:
    node = answer[component]["children"]
    assert node["props"]["role"] == "alert", node
    return str(node["props"]["children"])


# --- tests ---------------------------------------------------------------------------------


def test_the_real_ingest_path_quarantined_the_records(world: World) -> None:
    records = quarantine(world.engine)
    assert {k: v[:2] for k, v in records.items()} == {
        "big-1": ("open", "max"),
        "big-2": ("open", "max"),
        "huge": ("open", "max"),
        "lost": ("open", "unknown_org_unit"),
        "typed": ("open", "type"),
        "badmail": ("open", "pattern"),
        '{"order_id": "broken", "email": "' + PII_IN_RAW + '"': ("open", "json"),
        f"{EAST_MARKER}-1": ("open", "max"),
    }
    assert stored_events(world.engine) == ["ok-1"]


def test_a_steward_filters_by_source_rule_reason_status_and_time(world: World) -> None:
    sam = world.client(SAM)
    everything = listing(sam)
    assert len(rows(everything)) == 8
    assert "Records 1 to 8 of 8 open records" in everything[IDS["summary"]]["children"]
    assert everything[IDS["discard_matching"]]["children"] == "Discard all 8 matching"

    orders = world.sources["orders"]
    assert len(rows(listing(sam, source=orders))) == 7
    assert order_ids(listing(sam, source=orders, match="max")) == {"big-1", "big-2", "huge"}
    # The text matches the rule or a part of the reason, case-insensitively (replay's rule).
    assert order_ids(listing(sam, match="UNKNOWN ORG UNIT 'atlantis'")) == {"lost"}
    assert order_ids(listing(sam, source=world.sources["returns"])) == {f"{EAST_MARKER}-1"}

    today = NOW.date()
    recent = listing(sam, start=str(today - dt.timedelta(days=1)), end=str(today))
    assert len(rows(recent)) == 8
    old = str(today - dt.timedelta(days=3))
    assert rows(listing(sam, start=old, end=old)) == []
    assert rows(listing(sam, status="discarded")) == []
    assert len(rows(listing(sam, status="all"))) == 8

    # A filter change goes back to page 1; asking for a page past the end shows none.
    back = listing(sam, page=3, changed=(IDS["match"], "value"))
    assert back[IDS["pages"]]["active_page"] == 1
    past_the_end = listing(sam, page=3, changed=(IDS["pages"], "active_page"))
    assert rows(past_the_end) == []
    assert past_the_end[IDS["pages"]]["active_page"] == 3


def test_the_list_is_paged_and_bounded_on_the_server(world: World) -> None:
    with world.engine.connect() as connection:
        principal = load_principal(connection, world.users[SAM])
        chosen = QuarantineFilter(source_id=world.sources["orders"])
        first = quarantine_page(connection, principal, chosen, offset=0, page_size=3, row_limit=100)
        second = quarantine_page(
            connection, principal, chosen, offset=3, page_size=3, row_limit=100
        )
        capped = quarantine_page(connection, principal, chosen, offset=0, page_size=3, row_limit=5)
        with pytest.raises(QueryTooLarge):
            quarantine_page(connection, principal, chosen, offset=5, page_size=3, row_limit=5)
    assert (len(first.items), first.total, first.capped) == (3, 7, False)
    assert not {i.id for i in first.items} & {i.id for i in second.items}
    newest_first = [i.received_at for i in first.items + second.items]
    assert newest_first == sorted(newest_first, reverse=True)
    assert (capped.total, capped.capped) == (5, True)


def test_payloads_are_masked_as_events_are(world: World) -> None:
    ids = record_ids(world.engine)
    cell = {"rowId": str(ids["huge"]), "colId": "payload", "rowIndex": 0}
    broken = '{"order_id": "broken", "email": "' + PII_IN_RAW + '"'

    # The steward holds pii:view and event:view: everything, in the list and the record.
    sam = world.client(SAM)
    shown = text_of(listing(sam))
    assert PII in shown
    assert str(MARGIN) in shown
    assert PII_IN_RAW in shown
    record = text_of(post(sam, RECORD_OUT, RECORD_IN, [cell]))
    assert PII in record
    assert str(MARGIN) in record
    assert f"Record {ids['huge']}" in record

    # Without pii:view or event:view: pii masked, confidential dropped, raw text masked,
    # and the reason about the e-mail (a pii field) withheld.
    cleo = world.client(CLEO)
    masked = listing(cleo)
    assert PII not in text_of(masked)
    assert PII_IN_RAW not in text_of(masked)
    assert str(MARGIN) not in text_of(masked)
    huge = next(r for r in rows(masked) if r["id"] == str(ids["huge"]))
    assert json.loads(huge["payload"])["email"] == MASK
    assert "margin" not in json.loads(huge["payload"])
    raw = next(r for r in rows(masked) if r["id"] == str(ids[broken]))
    assert raw["payload"] == MASK
    badmail = next(r for r in rows(masked) if r["id"] == str(ids["badmail"]))
    assert badmail["reason"].startswith("(withheld")
    record = text_of(post(cleo, RECORD_OUT, RECORD_IN, [cell]))
    assert PII not in record
    assert str(MARGIN) not in record
    assert MASK in record

    # The text filter cannot probe a withheld reason; the rule still finds the record.
    assert rows(listing(cleo, match="does not match the pattern")) == []
    assert order_ids(listing(cleo, match="pattern")) == {"badmail"}
    assert order_ids(listing(sam, match="does not match the pattern")) == {"badmail"}

    # event:view without pii:view: confidential shown, pii still masked.
    aude = text_of(listing(world.client(AUDE)))
    assert str(MARGIN) in aude
    assert PII not in aude
    assert MASK in aude


def test_preview_then_replay_after_a_contract_fix_reingests_exactly_what_now_passes(
    world: World,
) -> None:
    sam, orders = world.client(SAM), world.sources["orders"]
    fix_contract(world, 1000)

    # Replay without a preview of the same selection is refused.
    refused = replay(sam, orders, "max", None)
    assert "preview the replay first" in alert_of(refused, IDS["replay_note"])
    assert quarantine(world.engine)["big-1"][0] == "open"

    previewed = preview(sam, orders, "max")
    note = alert_of(previewed, IDS["preview_note"])
    assert note == "Against contract v2 of Orders: 2 would now pass, 1 still fail (max 1)."
    assert previewed[IDS["replay"]] == {"disabled": False, "children": "Replay 3 records"}
    stored = previewed[IDS["preview_store"]]["data"]
    assert stored == {"source": orders, "match": "max", "version": 2}
    assert quarantine(world.engine)["big-1"][0] == "open"  # a dry run changes nothing
    assert audit_rows(world.engine, "quarantine.replay") == []

    # A preview for another selection does not unlock this one.
    assert "preview the replay first" in alert_of(
        replay(sam, orders, None, stored), IDS["replay_note"]
    )

    done = replay(sam, orders, "max", stored)
    assert "2 re-ingested, 1 still failing (max 1)" in alert_of(done, IDS["replay_note"])
    run_burst_worker(world.services)

    assert stored_events(world.engine) == ["big-1", "big-2", "ok-1"]
    records = quarantine(world.engine)
    sam_id = world.users[SAM]
    assert records["big-1"][:2] == ("replayed", "max")
    assert records["big-1"][3] == sam_id
    assert records["big-2"][0] == "replayed"
    assert records["huge"][:3] == ("open", "max", 2)  # judged again by the new contract
    assert {records[k][0] for k in ("lost", "typed", "badmail")} == {"open"}
    (audit,) = audit_rows(world.engine, "quarantine.replay")
    assert (audit.actor_id, audit.target_id) == (sam_id, "orders")
    assert (audit.detail["replayed"], audit.detail["still_failing"]) == (2, 1)

    # The list no longer shows the replayed records as open.
    assert order_ids(listing(sam, source=orders, match="max")) == {"huge"}
    # Replaying the same preview again is refused: the selection has changed.
    assert "preview the replay first" not in text_of(preview(sam, orders, "max"))


def test_after_a_replay_or_a_discard_the_filters_show_the_new_open_counts(world: World) -> None:
    sam, orders, returns = world.client(SAM), world.sources["orders"], world.sources["returns"]
    page = sam.post(UPDATE, json=page_request("/steward/quarantine")).get_data(as_text=True)
    shown = {o["value"]: o["label"] for o in prop(page, IDS["source"], "options")}
    assert shown == {orders: "Orders (orders) · 7 open", returns: "Returns (returns) · 1 open"}

    fix_contract(world, 1000)
    stored = preview(sam, orders, "max")[IDS["preview_store"]]["data"]
    replayed = replay(sam, orders, "max", stored)[IDS["replayed"]]["data"]
    labels, rules = choices(sam, replayed=replayed)
    assert labels == {orders: "Orders (orders) · 5 open", returns: "Returns (returns) · 1 open"}
    assert rules["max"] == "2 open"  # "huge" (still over the max) and the returns' record

    huge = record_ids(world.engine)["huge"]
    discarded = discard(sam, selected=[{"id": str(huge)}])[IDS["discarded"]]["data"]
    labels, rules = choices(sam, replayed, discarded)
    assert labels[orders] == "Orders (orders) · 4 open"
    assert rules["max"] == "1 open"
    assert rules["unknown_org_unit"] == "1 open"

    # The choices are the user's own: the east steward's list holds her source only.
    assert choices(world.client(RITA), replayed)[0] == {returns: "Returns (returns) · 1 open"}


def test_a_replay_previewed_before_another_contract_change_must_be_previewed_again(
    world: World,
) -> None:
    sam, orders = world.client(SAM), world.sources["orders"]
    fix_contract(world, 1000)
    stored = preview(sam, orders, "max")[IDS["preview_store"]]["data"]
    fix_contract(world, 200)
    refused = replay(sam, orders, "max", stored)
    assert "the selection or the contract changed" in alert_of(refused, IDS["replay_note"])
    assert quarantine(world.engine)["big-1"][0] == "open"


def test_discard_selected_records_with_a_reason_is_audited(world: World) -> None:
    sam, ids = world.client(SAM), record_ids(world.engine)
    chosen = [{"id": str(ids["huge"])}, {"id": str(ids["typed"])}]

    for missing in (None, "", "   "):
        answer = discard(sam, selected=chosen, reason=missing)
        assert "a reason is required" in alert_of(answer, IDS["discard_note"])
    assert quarantine(world.engine)["huge"][0] == "open"

    done = discard(sam, selected=chosen, reason="test orders from the load test")
    assert alert_of(done, IDS["discard_note"]) == "Discarded 2 records (orders 2)."
    records = quarantine(world.engine)
    for key in ("huge", "typed"):
        assert records[key][0] == "discarded"
        assert records[key][3:] == (world.users[SAM], "test orders from the load test")
    (audit,) = audit_rows(world.engine, "quarantine.discard")
    assert (audit.actor, audit.actor_id, audit.target_id) == (
        "Sam Steward",
        world.users[SAM],
        "orders",
    )
    assert audit.before == {"status": "open", "ids": sorted([ids["huge"], ids["typed"]])}
    assert audit.after is not None
    assert (audit.after["status"], audit.after["note"]) == (
        "discarded",
        "test orders from the load test",
    )
    assert audit.detail["count"] == 2

    # Records no longer open are skipped, not discarded twice.
    again = discard(sam, selected=[{"id": str(ids["huge"])}, {"id": str(ids["lost"])}])
    assert alert_of(again, IDS["discard_note"]) == (
        "Discarded 1 record (orders 1). 1 were no longer open and were left as they are."
    )


def test_discard_all_matching_is_bounded_and_audited(world: World) -> None:
    sam, orders = world.client(SAM), world.sources["orders"]
    done = discard(sam, matching=True, source=orders, match="max", reason="obsolete prices")
    assert alert_of(done, IDS["discard_note"]) == "Discarded 3 records (orders 3)."
    records = quarantine(world.engine)
    assert {records[k][0] for k in ("big-1", "big-2", "huge")} == {"discarded"}
    assert records[f"{EAST_MARKER}-1"][0] == "open"  # another source, same rule
    (audit,) = audit_rows(world.engine, "quarantine.discard")
    assert audit.detail["chosen"] == "filter"
    assert audit.detail["filter"]["match"] == "max"

    nothing = discard(sam, matching=True, source=orders, match="max")
    assert "no open record matches" in alert_of(nothing, IDS["discard_note"])
    with world.engine.connect() as connection:
        principal = load_principal(connection, world.users[SAM])
    with Session(world.engine) as session, pytest.raises(TooManyRecords):
        discard_matching(session, principal, QuarantineFilter(), "too many", limit=2)
    assert quarantine(world.engine)["lost"][0] == "open"


REFUSED = "Not allowed: missing permission quarantine:manage."


def snapshot(world: World) -> tuple[Any, ...]:
    return (
        quarantine(world.engine),
        stored_events(world.engine),
        len(audit_rows(world.engine, "quarantine.replay")),
        len(audit_rows(world.engine, "quarantine.discard")),
    )


def test_without_quarantine_manage_forged_calls_are_refused_and_change_nothing(
    world: World,
) -> None:
    fix_contract(world, 1000)
    before = snapshot(world)
    ids = record_ids(world.engine)
    eve, orders = world.client(EVE), world.sources["orders"]
    stored = {"source": orders, "match": "max", "version": 2}

    assert REFUSED in text_of(listing(eve))
    assert REFUSED in text_of(preview(eve, orders, "max"))
    assert REFUSED in text_of(replay(eve, orders, "max", stored))
    assert REFUSED in text_of(discard(eve, selected=[{"id": str(ids["huge"])}]))
    assert REFUSED in text_of(discard(eve, matching=True, source=orders))
    cell = {"rowId": str(ids["huge"])}
    assert REFUSED in text_of(post(eve, RECORD_OUT, RECORD_IN, [cell]))
    assert post(eve, CHOICES_OUT, CHOICES_IN, [{"n": 1}, None]) == {}  # nothing to show
    page = eve.post(UPDATE, json=page_request("/steward/quarantine"))
    assert REFUSED in page.get_data(as_text=True)
    assert snapshot(world) == before


def test_out_of_scope_sources_and_records_are_refused_and_change_nothing(world: World) -> None:
    fix_contract(world, 1000)
    before = snapshot(world)
    ids = record_ids(world.engine)
    rita, orders = world.client(RITA), world.sources["orders"]  # a steward of "east" only
    no_source = "Not allowed: no such source in your scope."
    no_record = "Not allowed: no such quarantined record in your scope."

    visible = listing(rita)
    assert order_ids(visible) == {f"{EAST_MARKER}-1"}
    assert no_source in text_of(listing(rita, source=orders))
    assert no_source in text_of(preview(rita, orders, "max"))
    stored = {"source": orders, "match": "max", "version": 2}
    assert no_source in text_of(replay(rita, orders, "max", stored))
    mixed = [{"id": str(ids[f"{EAST_MARKER}-1"])}, {"id": str(ids["huge"])}]
    assert no_record in text_of(discard(rita, selected=mixed))
    assert no_source in text_of(discard(rita, matching=True, source=orders))
    assert no_record in text_of(post(rita, RECORD_OUT, RECORD_IN, [{"rowId": str(ids["huge"])}]))
    # Her own record stays open too: the whole action was refused.
    assert snapshot(world) == before


def test_a_steward_of_a_sibling_region_forging_its_records_changes_nothing(world: World) -> None:
    """West and east are siblings: a west steward sends the east source's real ids, with a
    real click and a stored preview, to every action; each reaches the scope check and is
    refused, and the same calls by the east steward work (so the refusal is the scope's)."""
    fix_contract(world, 1000)
    before = snapshot(world)
    returns, record = world.sources["returns"], record_ids(world.engine)[f"{EAST_MARKER}-1"]
    wes = world.client(WES)
    no_source = "Not allowed: no such source in your scope."
    no_record = "Not allowed: no such quarantined record in your scope."
    stored = {"source": returns, "match": "max", "version": 1}

    assert rows(listing(wes)) == []
    assert no_source in text_of(listing(wes, source=returns))
    assert no_source in text_of(preview(wes, returns, "max"))
    assert no_source in text_of(replay(wes, returns, "max", stored))
    assert no_record in text_of(discard(wes, selected=[{"id": str(record)}]))
    assert no_source in text_of(discard(wes, matching=True, source=returns, match="max"))
    assert no_record in text_of(post(wes, RECORD_OUT, RECORD_IN, [{"rowId": str(record)}]))
    assert snapshot(world) == before
    with world.engine.connect() as connection:
        refused = connection.execute(
            text(
                "SELECT action, outcome FROM access_log WHERE user_id = :u "
                "AND action IN ('preview_replay', 'replay_records', 'discard_records')"
            ),
            {"u": world.users[WES]},
        ).all()
    assert sorted(refused) == sorted(
        [("preview_replay", "denied"), ("replay_records", "denied")]
        + [("discard_records", "denied")] * 2
    )

    rita = world.client(RITA)
    assert alert_of(preview(rita, returns, "max"), IDS["preview_note"]) == (
        "Against contract v1 of Returns: 0 would now pass, 1 still fail (max 1)."
    )
    assert (
        alert_of(discard(rita, selected=[{"id": str(record)}]), IDS["discard_note"])
        == "Discarded 1 record (returns 1)."
    )
    assert quarantine(world.engine)[f"{EAST_MARKER}-1"][0] == "discarded"


JUNK: tuple[Any, ...] = (
    -1,
    0,
    2**63,
    "' OR 1=1 --",
    "x" * 10_000,
    [1, 2],
    {"a": 1},
    True,
    1.5,
    float("nan"),
)


def clean(answer: dict[str, Any]) -> str:
    """The answer as text, after checking it is no crash (no trace, no generic error)."""
    shown = text_of(answer)
    assert "Traceback" not in shown, shown[:300]
    assert "Something went wrong" not in shown, shown[:300]
    return shown


def test_junk_in_every_input_gets_a_clean_answer_and_changes_nothing(world: World) -> None:
    before = snapshot(world)
    sam, huge = world.client(SAM), str(record_ids(world.engine)["huge"])
    for junk in JUNK:
        for slot in range(6):
            values: list[Any] = [None, None, "open", None, None, 1]
            values[slot] = junk
            clean(listing(sam, *values))
        refused = clean(preview(sam, junk, "max"))
        assert "Invalid input" in refused or "Not allowed" in refused
        assert "Invalid input" in clean(preview(sam, world.sources["orders"], [junk]))
        for forged in (junk, [junk], [{"id": junk}]):
            assert "Discarded" not in clean(discard(sam, selected=forged))
        odd_reason = clean(discard(sam, selected=[{"id": huge}], reason=junk))
        assert "Discarded" not in odd_reason or isinstance(junk, str)
        clean(post(sam, RECORD_OUT, RECORD_IN, [{"rowId": junk}]))
    # The SQL-looking string is a valid (odd) reason: only "huge" may have been discarded.
    after = snapshot(world)
    changed = {k for k, v in after[0].items() if v != before[0][k]}
    assert changed == {"huge"}
    assert after[0]["huge"][4] == "' OR 1=1 --"
    assert after[1:3] == before[1:3]


def test_anonymous_calls_are_refused_before_any_work(world: World) -> None:
    anonymous = world.client(None)
    body = {
        "output": f"..{IDS['record']}.children...{IDS['record_panel']}.is_open..",
        "outputs": [
            {"id": IDS["record"], "property": "children"},
            {"id": IDS["record_panel"], "property": "is_open"},
        ],
        "inputs": [{"id": IDS["grid"], "property": "cellClicked", "value": {"rowId": "1"}}],
        "state": [],
        "changedPropIds": [f"{IDS['grid']}.cellClicked"],
    }
    assert anonymous.post(UPDATE, json=body).status_code == 401
    assert anonymous.get("/steward/quarantine").status_code in (302, 303)


def test_the_page_renders_filters_of_the_sources_in_scope(world: World) -> None:
    sam = world.client(SAM)
    page = sam.post(UPDATE, json=page_request("/steward/quarantine", "?source=orders&match=max"))
    body = page.get_data(as_text=True)
    assert IDS["grid"] in body
    assert "Orders (orders)" in body
    assert "Returns (returns)" in body
    assert f'"value": {world.sources["orders"]}' in body.replace('"value":', '"value": ')
    rita = world.client(RITA).post(UPDATE, json=page_request("/steward/quarantine"))
    assert "Orders (orders)" not in rita.get_data(as_text=True)
