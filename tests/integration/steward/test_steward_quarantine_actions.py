"""The quarantine browser through HTTP: replay after a contract fix (previewed first, drained
by a real burst worker) and discard with a reason, both audited, and the counts they change.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from dashboard.steward.quarantine_layout import IDS
from integration.auth_support import page_request
from integration.drain_support import run_burst_worker, services
from integration.steward.quarantine_calls_support import (
    alert_of,
    choices,
    discard,
    listing,
    order_ids,
    preview,
    replay,
    text_of,
)
from integration.steward.quarantine_support import (
    EAST_MARKER,
    RITA,
    SAM,
    UPDATE,
    World,
    audit_rows,
    fix_contract,
    quarantine,
    record_ids,
    stored_events,
    world,
)
from integration.steward_support import prop
from models.quarantine_actions import TooManyRecords, discard_matching
from models.queries.principals import load_principal
from models.queries.steward.quarantine_view import QuarantineFilter

__all__ = ["services", "world"]  # fixtures


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
