"""What a catalogue file is refused for: every problem named by file, entry and field, all of
them at once, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from models.catalog_file import read_catalog
from models.org import OrgUnit
from models.sources import SourceContract

from .support import CATALOG, KPIS, ORDERS, UNITS, add_user, apply_text, refused, store_event


def _units(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(OrgUnit)) or 0


def test_an_unknown_parent_is_refused_and_nothing_is_applied(db: Engine) -> None:
    text = UNITS + "  - {key: north, name: North, level: region, parent: nowhere}\n"
    assert refused(db, text) == [
        "catalog.yaml: org_units[3] (north): parent: unknown org unit 'nowhere'"
    ]
    assert _units(db) == 0


def test_a_cycle_in_the_tree_is_refused(db: Engine) -> None:
    text = """
org_units:
  - {key: a, name: A, level: region, parent: b}
  - {key: b, name: B, level: region, parent: a}
"""
    problems = refused(db, text)
    assert problems[0] == (
        "catalog.yaml: org_units[0] (a): parent: the tree would have a cycle: a → b → a"
    )
    assert len(problems) == 2


def test_moving_a_stored_unit_under_its_own_descendant_is_a_cycle(db: Engine) -> None:
    apply_text(db, UNITS + "  - {key: east-1, name: East 1, level: country, parent: east}\n")
    problems = refused(
        db, "org_units:\n  - {key: east, name: East, level: region, parent: east-1}\n"
    )
    assert problems == [
        "catalog.yaml: org_units[0] (east): parent: the tree would have a cycle: "
        "east → east-1 → east"
    ]


def test_unknown_owners_and_stewards_are_refused(db: Engine) -> None:
    text = CATALOG.replace("owner: east", "owner: mars")
    problems = refused(db, text)  # nobody is sam@example.com yet
    assert "catalog.yaml: sources[0] (orders): steward: no active user with e-mail " in problems[0]
    assert "catalog.yaml: sources[1] (spend): owner: unknown org unit 'mars'" in problems
    assert "catalog.yaml: kpis[1] (roi): owner: unknown org unit 'mars'" in problems
    assert any(p.startswith("catalog.yaml: kpis[0] (revenue): steward: ") for p in problems)
    assert _units(db) == 0


def test_a_formula_that_does_not_parse_or_reads_an_undeclared_metric_is_refused(
    db: Engine,
) -> None:
    add_user(db)
    text = CATALOG.replace("formula: sum(orders.amount)\n", "formula: sum(orders.amount\n")
    text = text.replace("sum(spend.cost)", "sum(spend.clicks)")
    problems = refused(db, text)
    assert len(problems) == 2
    assert problems[0].startswith("catalog.yaml: kpis[0] (revenue): formula: position ")
    assert problems[1].startswith("catalog.yaml: kpis[1] (roi): formula: position ")
    assert "spend.clicks" in problems[1]


def test_a_metric_entry_of_an_unknown_measure_is_refused(db: Engine) -> None:
    add_user(db)
    text = CATALOG.replace(
        "  - {key: orders.amount, unit: EUR}", "  - {key: orders.tax, unit: EUR}"
    )
    assert refused(db, text) == [
        "catalog.yaml: metrics[0] (orders.tax): key: source 'orders' has no measure 'tax' in "
        "its contract"
    ]


_NO_CHANNEL = CATALOG.replace(
    "        - {name: channel, type: enum, role: dimension, allowed: [web, store]}\n", ""
)
_AMOUNT_INT = CATALOG.replace(
    "{name: amount, type: float, role: measure, min: 0}", "{name: amount, type: int, role: measure}"
)


@pytest.mark.parametrize(
    ("edited", "what"),
    [(_NO_CHANNEL, "field 'channel' removed"), (_AMOUNT_INT, "type of 'amount' changed")],
)
def test_a_contract_change_that_would_orphan_stored_events_needs_a_new_version(
    db: Engine, edited: str, what: str
) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    store_event(db, "orders")
    problems = refused(db, edited)
    assert len(problems) == 1
    assert problems[0].startswith(
        "catalog.yaml: sources[0] (orders): contract.fields: the source has stored events"
    )
    assert what in problems[0]
    assert "declare contract version 2" in problems[0]
    declared = edited.replace(
        "    contract:\n      fields:", "    contract:\n      version: 2\n      fields:", 1
    )
    assert [str(c).split(" (")[0] for c in apply_text(db, declared)] == [
        "update orders: contract: version 1 → 2"
    ]


def test_without_stored_events_a_removed_field_is_just_a_new_version(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    apply_text(db, _NO_CHANNEL)
    with Session(db) as session:
        assert session.scalar(select(func.max(SourceContract.version))) == 2


def test_a_declared_version_must_be_the_current_or_the_next(db: Engine) -> None:
    add_user(db)
    apply_text(db, CATALOG)
    stale = _NO_CHANNEL.replace(
        "    contract:\n      fields:", "    contract:\n      version: 1\n      fields:", 1
    )
    assert refused(db, stale) == [
        "catalog.yaml: sources[0] (orders): contract.version: version 1 is stored with other "
        "fields; declare version 2 to make these fields a new version"
    ]
    ahead = CATALOG.replace(
        "    contract:\n      fields:", "    contract:\n      version: 5\n      fields:", 1
    )
    assert refused(db, ahead) == [
        "catalog.yaml: sources[0] (orders): contract.version: the current version is 1: the "
        "next one is 2"
    ]


def test_a_key_defined_twice_is_refused_naming_both_files(db: Engine, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(UNITS)
    (tmp_path / "b.yaml").write_text("org_units:\n  - {key: west, name: West, level: region}\n")
    document = read_catalog([tmp_path])
    assert [str(p) for p in document.problems] == [
        f"{tmp_path / 'b.yaml'}: org_units[0] (west): key: key 'west' is already defined at "
        f"{tmp_path / 'a.yaml'}: org_units[2] (west)"
    ]
    twice = UNITS + "  - {key: east, name: East again, level: region, parent: acme}\n"
    assert refused(db, twice) == [
        "catalog.yaml: org_units[3] (east): key: key 'east' is already defined at "
        "catalog.yaml: org_units[1] (east)"
    ]


def test_bad_enum_values_are_refused_with_the_allowed_ones(db: Engine) -> None:
    text = (
        CATALOG.replace("mode: streaming", "mode: push")
        .replace("direction: higher_is_better", "direction: up")
        .replace("sensitivity: confidential", "sensitivity: secret")
        .replace(
            "{name: amount, type: float, role: measure",
            "{name: amount, type: decimal, role: measure",
        )
        .replace(
            "{name: channel, type: enum, role: dimension", "{name: channel, type: enum, role: group"
        )
        .replace("level: company", "level: planet")
        .replace(
            "{name: cost, type: float, role: measure}",
            "{name: cost, type: float, role: measure, classification: secret}",
        )
    )
    problems = refused(db, text)
    expected = [
        "catalog.yaml: org_units[0] (acme): level: Input should be 'company', 'region', "
        "'country' or 'business_unit'",
        "catalog.yaml: sources[0] (orders): mode: Input should be 'streaming', 'microbatch' or "
        "'scheduled'",
        "catalog.yaml: sources[0] (orders): contract.fields[3].type: Input should be",
        "catalog.yaml: sources[0] (orders): contract.fields[4].role: Input should be",
        "catalog.yaml: sources[1] (spend): sensitivity: Input should be 'public', 'internal', "
        "'confidential' or 'pii'",
        "catalog.yaml: sources[1] (spend): contract.fields[3].classification: Input should be "
        "'public', 'internal', 'confidential' or 'pii'",
        "catalog.yaml: kpis[1] (roi): direction: Input should be 'higher_is_better' or "
        "'lower_is_better'",
    ]
    for line in expected:
        assert any(p.startswith(line) for p in problems), (line, problems)
    assert _units(db) == 0


@pytest.mark.parametrize("expires", ["2030-02-30", "30/06/2030", "2030-06-30T25:00:00Z"])
def test_invalid_dates_are_refused(db: Engine, expires: str) -> None:
    add_user(db)
    problems = refused(db, CATALOG.replace('expires: "2030-06-30"', f"expires: {expires}"))
    assert len(problems) == 1
    assert problems[0].startswith("catalog.yaml: sources[1] (spend): partner_agreement.expires: ")


def test_the_file_itself_unknown_sections_and_doubled_fields_are_refused(db: Engine) -> None:
    assert refused(db, "org_units:\n  - {key: a, name: [unclosed\n", "bad.yaml")[0].startswith(
        "bad.yaml: file: not valid YAML: line "
    )
    assert refused(db, "plans:\n  - {kpi: revenue}\n") == [
        "catalog.yaml: plans: unknown section (the sections are org_units, sources, metrics, "
        "kpis, targets)"
    ]
    doubled = "org_units:\n  - key: a\n    name: A\n    name: B\n    level: company\n"
    assert refused(db, doubled) == [
        "catalog.yaml: file: not valid YAML: line 4: 'name' is written twice in the same mapping"
    ]


def test_a_pull_on_a_pushed_source_and_an_unknown_field_are_refused(db: Engine) -> None:
    add_user(db)
    text = CATALOG.replace("mode: scheduled", "mode: streaming").replace(
        "retention_days: 30", "retention: 30"
    )
    assert refused(db, text) == [
        "catalog.yaml: sources[0] (orders): retention: Extra inputs are not permitted",
        "catalog.yaml: sources[1] (spend): pull: only a source in mode microbatch or scheduled "
        "is pulled",
    ]


def test_every_problem_is_reported_at_once(db: Engine) -> None:
    text = (
        UNITS.replace("parent: acme}", "parent: nowhere}", 1)
        + "sources:"
        + ORDERS.replace("freshness_sla_s: 300", "freshness_sla_s: -1")
        + KPIS.replace('format: ",.0f"', 'format: "%d"')
    )
    problems = refused(db, text)
    assert [p.split(": ")[1] + ": " + p.split(": ")[2] for p in problems[:3]] == [
        "org_units[1] (east): parent",
        "sources[0] (orders): freshness_sla_s",
        "kpis[0] (revenue): format",
    ]


def test_a_steward_needs_a_steward_permission_and_the_owner_in_scope(db: Engine) -> None:
    add_user(db, "eve@example.com", role="executive")
    add_user(db, "wes@example.com", scope="west", units=None)
    text = CATALOG.replace("steward: sam@example.com", "steward: eve@example.com", 1).replace(
        "    owner: east\n", "    owner: east\n    steward: wes@example.com\n", 1
    )
    problems = refused(db, text)
    assert problems[0] == (
        "catalog.yaml: sources[0] (orders): steward: eve@example.com holds neither "
        "incident:manage nor quarantine:manage"
    )
    assert problems[1] == (
        "catalog.yaml: sources[1] (spend): steward: the scope of wes@example.com does not "
        "include the owner unit 'east'"
    )
