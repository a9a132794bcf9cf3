"""The quarantine browser through HTTP: refusals. Forged calls without quarantine:manage or
out of scope, junk in every input and anonymous calls are refused and change nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from dashboard.steward.quarantine_layout import IDS
from integration.auth_support import page_request
from integration.drain_support import services
from integration.steward.quarantine_calls_support import (
    CHOICES_IN,
    CHOICES_OUT,
    RECORD_IN,
    RECORD_OUT,
    alert_of,
    discard,
    listing,
    order_ids,
    post,
    preview,
    replay,
    rows,
    text_of,
)
from integration.steward.quarantine_support import (
    EAST_MARKER,
    EVE,
    RITA,
    SAM,
    UPDATE,
    WES,
    World,
    audit_rows,
    fix_contract,
    quarantine,
    record_ids,
    stored_events,
    world,
)

__all__ = ["services", "world"]  # fixtures


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
