"""The quarantine browser through HTTP: what the real ingest path quarantined, the filters,
paging bounded on the server, masked payloads, and the page's filters of the sources in scope.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dashboard.steward.quarantine_layout import IDS
from integration.auth_support import page_request
from integration.drain_support import services
from integration.steward.quarantine_calls_support import (
    RECORD_IN,
    RECORD_OUT,
    listing,
    order_ids,
    post,
    rows,
    text_of,
)
from integration.steward.quarantine_support import (
    AUDE,
    CLEO,
    EAST_MARKER,
    MARGIN,
    NOW,
    PII,
    PII_IN_RAW,
    RITA,
    SAM,
    UPDATE,
    World,
    quarantine,
    record_ids,
    stored_events,
    world,
)
from models.queries.common import QueryTooLarge
from models.queries.masking import MASK
from models.queries.principals import load_principal
from models.queries.steward.quarantine_view import QuarantineFilter, quarantine_page

__all__ = ["services", "world"]  # fixtures


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
