"""The source page: contract versions and what changed between them, SLA, expected volume,
steward, the badge and recent checks; scoped and refused like every read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.quality.runner import run_cycle
from integration.auth_support import ACTOR, page_request
from integration.drain_support import services
from integration.steward.quarantine_calls_support import post, text_of
from integration.steward.quarantine_support import (
    CLEO,
    EVE,
    IAN,
    NORA,
    RITA,
    SAM,
    UPDATE,
    World,
    fix_contract,
    order_fields,
    world,
)
from models.catalog import ensure_contract
from models.contracts import Contract, FieldRole, FieldSpec, FieldType
from models.enums import Classification
from models.queries.steward.sources_view_diff import (
    ChangeKind,
    FieldChange,
    contract_diff,
    diff_summary,
)
from models.settings import Settings
from models.sources import Source

__all__ = ["services", "world"]  # fixtures

BODY = [("source-body", "children")]
PARAMS = [("source-params", "data")]


def source_page(world: World, email: str, key: Any) -> dict[str, Any]:
    return post(world.client(email), BODY, PARAMS, [{"key": key}])


def cells(node: Any) -> str:
    """The text inside a component tree, concatenated."""
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list):
        return "".join(cells(n) for n in node)
    if isinstance(node, dict):
        props = node.get("props", {})
        title = props.get("title")
        inner = cells(props.get("children", ""))
        return (
            f"{title}{inner}" if isinstance(title, str) and node.get("type") != "Badge" else inner
        )
    return ""


def table_rows(node: Any, found: list[list[str]] | None = None) -> list[list[str]]:
    """Every table row (``Tr``) of a component tree, as the text of its cells."""
    found = [] if found is None else found
    if isinstance(node, list):
        for child in node:
            table_rows(child, found)
    elif isinstance(node, dict):
        if node.get("type") == "Tr":
            children = node["props"]["children"]
            found.append([cells(c) for c in children])
            return found
        table_rows(node.get("props", {}).get("children"), found)
    return found


def spec(name: str, kind: FieldType, role: FieldRole, **more: Any) -> FieldSpec:
    return FieldSpec(name=name, type=kind, role=role, **more)


BASE = (
    spec("id", FieldType.STRING, FieldRole.EVENT_ID),
    spec("ts", FieldType.TIMESTAMP, FieldRole.TIMESTAMP),
    spec("unit", FieldType.STRING, FieldRole.ORG_UNIT),
)


def test_the_contract_diff_lists_added_removed_and_changed_fields() -> None:
    before = Contract(
        version=1,
        fields=(
            *BASE,
            spec("amount", FieldType.INT, FieldRole.MEASURE, max=100.0),
            spec("email", FieldType.STRING, FieldRole.ATTRIBUTE, required=False),
            spec("channel", FieldType.ENUM, FieldRole.DIMENSION, allowed=("web", "app")),
        ),
    )
    after = Contract(
        version=2,
        fields=(
            *BASE,
            spec("amount", FieldType.FLOAT, FieldRole.MEASURE, max=1000.0),
            spec(
                "email",
                FieldType.STRING,
                FieldRole.ATTRIBUTE,
                required=False,
                classification=Classification.PII,
                pattern=r"^\S+@\S+$",
            ),
            spec("coupon", FieldType.STRING, FieldRole.DIMENSION, required=False),
        ),
    )
    changes = contract_diff(before, after)
    assert changes == [
        FieldChange("amount", ChangeKind.CHANGED, "type", "int", "float"),
        FieldChange("amount", ChangeKind.CHANGED, "max", "100", "1000"),
        FieldChange("email", ChangeKind.CHANGED, "classification", "internal", "pii"),
        FieldChange("email", ChangeKind.CHANGED, "pattern", "—", r"^\S+@\S+$"),
        FieldChange("coupon", ChangeKind.ADDED, None, "—", "string dimension, optional, internal"),
        FieldChange(
            "channel",
            ChangeKind.REMOVED,
            None,
            "enum dimension, required, internal, allowed web, app",
            "—",
        ),
    ]
    assert diff_summary(changes) == "1 field added, 1 removed, 4 changes"
    assert contract_diff(after, after) == []
    assert diff_summary([]) == "no change to the fields"


def test_a_renamed_field_reads_as_one_removed_and_one_added() -> None:
    old = Contract(version=1, fields=(*BASE, spec("qty", FieldType.INT, FieldRole.MEASURE)))
    new = Contract(version=2, fields=(*BASE, spec("items", FieldType.INT, FieldRole.MEASURE)))
    kinds = [(c.field, c.kind) for c in contract_diff(old, new)]
    assert kinds == [("items", ChangeKind.ADDED), ("qty", ChangeKind.REMOVED)]
    assert diff_summary(contract_diff(old, new)) == "1 field added, 1 removed"


def third_version(world: World) -> None:
    """Version 3: channel dropped, a coupon added, margin no longer confidential."""
    fields = [f for f in order_fields(1000) if f.name != "channel"]
    fields = [
        f.model_copy(update={"classification": Classification.INTERNAL})
        if f.name == "margin"
        else f
        for f in fields
    ]
    fields.append(spec("coupon", FieldType.STRING, FieldRole.DIMENSION, required=False))
    with Session(world.engine) as session, session.begin():
        source = session.scalars(select(Source).where(Source.key == "orders")).one()
        ensure_contract(session, source, fields, ACTOR, note="coupons")


def test_the_source_page_shows_versions_with_their_diffs_and_the_pipeline_facts(
    world: World, settings: Settings
) -> None:
    fix_contract(world, 1000)
    third_version(world)
    run_cycle(world.engine, settings, dt.datetime.now(dt.UTC))

    answer = source_page(world, SAM, "orders")["source-body"]["children"]
    shown = cells(answer)
    assert "Orders" in shown
    assert "The orders feed." in shown
    for fact in (
        "Freshness SLA5 min",
        "Expected volume40 records per 15 minutes (declared)",
        "StewardSam Steward",
        "Owner unitAcme",
        "Raw data kept30 days",
        "Contract (current version 3)",
        "Quarantine (7 open)",
    ):
        assert fact in shown, fact
    assert "Version 3" in shown
    assert "against version 2: 1 field added, 1 removed, 1 change" in shown
    assert "against version 1: 1 change" in shown
    assert "Version 1" in shown
    found = table_rows(answer)
    assert ["amount", "~ Changed", "max", "100", "1000"] in found
    assert ["coupon", "+ Added", "—", "—", "string dimension, optional, internal"] in found
    assert ["margin", "~ Changed", "classification", "confidential", "internal"] in found
    assert [
        "channel",
        "✗ Removed",
        "—",
        "enum dimension, optional, internal, allowed web, app",
        "—",
    ] in found
    # The current fields, and the first version in full.
    assert any(r[:5] == ["email", "string", "attribute", "no", "pii"] for r in found)
    # Recent checks: the last event is an hour old against a 5-minute SLA.
    assert any(r[1] == "freshness" and "Failing" in r[3] for r in found)
    assert "failing" in text_of(answer)


def test_the_page_is_for_stewards_and_the_quarantine_link_for_those_who_manage_it(
    world: World,
) -> None:
    shown = cells(source_page(world, IAN, "orders")["source-body"]["children"])
    assert "Freshness SLA5 min" in shown
    assert "Quarantine (" not in shown
    clerk = cells(source_page(world, CLEO, "orders")["source-body"]["children"])
    assert "Quarantine (7 open)" in clerk
    executive = text_of(source_page(world, EVE, "orders"))
    assert "Not allowed: missing permission incident:manage or quarantine:manage." in executive
    assert "Freshness" not in executive


def test_out_of_scope_unknown_and_junk_keys_are_refused_cleanly(world: World) -> None:
    refused = "Not allowed: no such source in your scope."
    assert refused in text_of(source_page(world, RITA, "orders"))  # a steward of "east"
    assert refused in text_of(source_page(world, SAM, "no-such-source"))
    assert "Returns" in cells(source_page(world, RITA, "returns")["source-body"]["children"])
    for junk in ("", "x" * 500, 42, None, ["orders"], {"key": "orders"}, "\x00orders"):
        answer = text_of(source_page(world, SAM, junk))
        assert "Invalid input" in answer, junk
        assert "Orders" not in answer, junk
    assert "Invalid input" in text_of(post(world.client(SAM), BODY, PARAMS, ["orders"]))

    nobody = text_of(source_page(world, NORA, "orders"))
    assert "Not allowed: missing permission kpi:view." in nobody


def test_anonymous_is_refused_and_the_page_carries_only_the_key(world: World) -> None:
    body = {
        "output": "source-body.children",
        "outputs": {"id": "source-body", "property": "children"},
        "inputs": [{"id": "source-params", "property": "data", "value": {"key": "orders"}}],
        "state": [],
        "changedPropIds": ["source-params.data"],
    }
    assert world.client(None).post(UPDATE, json=body).status_code == 401
    page = world.client(SAM).post(UPDATE, json=page_request("/steward/sources/orders"))
    assert page.status_code == 200
    assert '"key": "orders"' in page.get_data(as_text=True).replace('"key":"', '"key": "')
