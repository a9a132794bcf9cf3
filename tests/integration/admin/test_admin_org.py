"""Admin console, org tree page over HTTP: the tree in the admin's scope, units created, renamed,
moved and deactivated (what it affects shown first, audited), cycles and out-of-scope units
refused, and a deactivated unit's new events quarantined with a reason."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from dashboard.admin.org import IDS
from ingest import jobs
from ingest.runtime import Services
from integration.admin_support import Console, answer_text, audits, console, rows
from integration.drain_support import (
    catalog,
    publish_records,
    quarantine_rows,
    record,
    run_burst_worker,
    services,
)
from integration.factories import Catalog
from integration.steward_support import Caller
from models import db as models_db
from models.admin.org import set_unit_active
from models.permissions import Permission, Principal
from models.queries.scope import child_units, resolve_unit

__all__ = ["catalog", "console", "services"]  # fixtures

TREE, CREATE, RENAME = IDS["tree"], IDS["create-note"], IDS["rename-note"]
PREVIEW, CONFIRM = IDS["impact"], IDS["confirm-note"]


def tree(caller: Caller) -> dict[str, Any]:
    return caller.answer(TREE, None, None, None)


def create(caller: Caller, parent: Any, key: str, name: str, level: str = "country") -> str:
    return answer_text(caller, CREATE, 1, parent, key, name, level)


def preview(caller: Caller, action: str, unit: Any, move_to: Any = None) -> dict[str, Any]:
    return caller.answer(PREVIEW, 1, action, unit, move_to)


def confirm(caller: Caller, pending: Any) -> str:
    return answer_text(caller, CONFIRM, 1, pending)


def unit_row(db: Engine, key: str) -> dict[str, Any]:
    (found,) = rows(
        db,
        "SELECT id, name, parent_id, CAST(path AS text) AS path, active FROM org_units "
        "WHERE key = :k",
        {"k": key},
    )
    return found


def options(answer: dict[str, Any], component: str) -> list[str]:
    return [o["label"] for o in answer[component]["options"]]


def test_the_tree_shows_only_the_admins_scope(console: Console) -> None:
    regional = tree(console.caller("regional_admin"))
    assert any("unit2" in label for label in options(regional, IDS["unit"]))
    assert not any("unit3" in label or "acme" in label for label in options(regional, IDS["unit"]))
    company = tree(console.caller("admin"))
    labels = options(company, IDS["unit"])
    assert [label.split("(")[-1] for label in labels] == ["acme)", "unit2)", "unit3)"]


def test_create_and_rename_are_audited_and_scoped(console: Console) -> None:
    rada = console.caller("regional_admin")
    shown = create(rada, console.units["unit2"], "unit2-fr", "France")
    assert "Created France" in shown
    made = unit_row(console.db, "unit2-fr")
    assert made["parent_id"] == console.units["unit2"]
    assert made["active"]
    (audit,) = audits(console.db, "org_unit.create")
    assert audit["after"]["key"] == "unit2-fr"
    assert audit["actor_id"] == console.users["regional_admin"]

    # Out of scope for Rada: refused, nothing created.
    refused = create(rada, console.units["unit3"], "unit3-de", "Germany")
    assert "Not allowed: no such org unit in your scope" in refused
    assert rows(console.db, "SELECT 1 FROM org_units WHERE key = 'unit3-de'") == []
    assert "exists already" in create(rada, console.units["unit2"], "unit2-fr", "Again")

    renamed = answer_text(rada, RENAME, 1, made["id"], "  République  ")
    assert "Renamed to République" in renamed
    (update,) = audits(console.db, "org_unit.update")
    assert (update["before"], update["after"]) == ({"name": "France"}, {"name": "République"})
    refused = answer_text(rada, RENAME, 1, console.units["unit3"], "Mine")
    assert "Not allowed" in refused
    assert unit_row(console.db, "unit3")["name"] != "Mine"


def test_a_move_shows_what_it_affects_then_applies_audited(console: Console) -> None:
    ada = console.caller("admin")
    create(ada, console.units["unit2"], "unit2-fr", "France")
    fr = unit_row(console.db, "unit2-fr")
    create(ada, fr["id"], "unit2-fr-paris", "Paris", "business_unit")
    shown = preview(ada, "move", fr["id"], console.units["unit3"])
    impact = str(shown)
    # Rada, Eve and Nora see France through unit2, which it leaves.
    assert "Users who no longer see it" in impact
    for name in ("Rada Regional", "Eve Executive", "Nora Norole"):
        assert name in impact
    assert "Stored events below it: 0" in impact
    assert "Units changed: 2" in impact
    assert unit_row(console.db, "unit2-fr")["parent_id"] == console.units["unit2"]  # not yet

    pending = shown[IDS["pending"]]["data"]
    assert "Moved" in confirm(ada, pending)
    moved = unit_row(console.db, "unit2-fr")
    assert moved["parent_id"] == console.units["unit3"]
    assert moved["path"] == f"{unit_row(console.db, 'unit3')['path']}.{fr['id']}"
    paris = unit_row(console.db, "unit2-fr-paris")
    assert paris["path"] == f"{moved['path']}.{paris['id']}"  # the subtree moved along
    (audit,) = audits(console.db, "org_unit.move")
    assert (audit["before"]["parent"], audit["after"]["parent"]) == ("unit2", "unit3")
    assert audits(console.db, "org_unit.update") == []  # one move, one audit row


def test_a_cycle_and_a_move_out_of_scope_are_refused(console: Console) -> None:
    ada = console.caller("admin")
    before = rows(console.db, "SELECT key, CAST(path AS text) AS p FROM org_units ORDER BY 1")
    pending = {"action": "move", "unit": console.units["acme"], "parent": console.units["unit2"]}
    assert "cannot move under itself or a unit below it" in confirm(ada, pending)
    rada = console.caller("regional_admin")
    create(rada, console.units["unit2"], "unit2-fr", "France")
    fr = unit_row(console.db, "unit2-fr")["id"]
    out = {"action": "move", "unit": fr, "parent": console.units["unit3"]}
    assert "Not allowed" in str(preview(rada, "move", fr, console.units["unit3"]))
    assert "Not allowed" in confirm(rada, out)
    after = rows(console.db, "SELECT key, CAST(path AS text) AS p FROM org_units ORDER BY 1")
    assert [r for r in after if r["key"] != "unit2-fr"] == before
    assert audits(console.db, "org_unit.move") == []


def test_deactivation_shows_impact_hides_the_unit_and_reactivates(console: Console) -> None:
    ada = console.caller("admin")
    create(ada, console.units["unit3"], "unit3-de", "Germany")
    shown = preview(ada, "deactivate", console.units["unit3"])
    impact = str(shown)
    assert "Units changed: 2" in impact
    assert "Otto Other" in impact
    assert "Deactivated 2 unit(s)" in confirm(ada, shown[IDS["pending"]]["data"])
    assert not unit_row(console.db, "unit3")["active"]
    assert not unit_row(console.db, "unit3-de")["active"]
    (audit,) = audits(console.db, "org_unit.deactivate")
    assert audit["after"] == {"active": False, "units": ["unit3", "unit3-de"]}

    # Gone from the pickers (parents, drill-down), still in the tree, marked.
    listed = tree(ada)
    assert not any("unit3" in label for label in options(listed, IDS["parent"]))
    assert any("(unit3) (deactivated)" in label for label in options(listed, IDS["unit"]))
    admin = Principal(None, frozenset(Permission), ("1",))
    with console.db.connect() as connection:
        root = resolve_unit(connection, admin, "acme")
        assert [u.key for u in child_units(connection, admin, root, active_only=True)] == ["unit2"]
        # Breakdowns by child unit still show its history.
        assert [u.key for u in child_units(connection, admin, root)] == ["unit2", "unit3"]
    assert "deactivated" in create(ada, console.units["unit3"], "unit3-it", "Italy")

    # A child cannot come back under a deactivated parent; the parent brings its subtree.
    child = {"action": "reactivate", "unit": unit_row(console.db, "unit3-de")["id"]}
    assert "reactivate it first" in confirm(ada, child)
    parent = {"action": "reactivate", "unit": console.units["unit3"]}
    assert "Reactivated 2 unit(s)" in confirm(ada, parent)
    assert unit_row(console.db, "unit3-de")["active"]


def test_non_admins_and_forged_input_are_refused(console: Console) -> None:
    eve = console.caller("executive")
    assert "Not allowed: missing permission catalog:manage" in answer_text(
        eve, TREE, None, None, None
    )
    assert "Not allowed" in create(eve, console.units["unit2"], "x", "X")
    pending = {"action": "deactivate", "unit": console.units["unit2"]}
    assert "Not allowed" in confirm(eve, pending)
    ada = console.caller("admin")
    assert "Invalid input" in create(ada, {"id": 1}, "x", "X")
    assert "Invalid input" in create(ada, console.units["unit2"], "x", "X", "galaxy")
    assert "Invalid input" in confirm(ada, {"action": "drop", "unit": 1})
    assert "Invalid input" in confirm(ada, "everything")
    assert "Not allowed" in confirm(ada, {"action": "deactivate", "unit": 999_999})
    assert all(r["active"] for r in rows(console.db, "SELECT active FROM org_units"))
    assert audits(console.db, "org_unit.create") == []


def test_a_deactivated_units_new_events_are_quarantined_with_a_reason(
    services: Services, catalog: Catalog, db: Engine
) -> None:
    admin = Principal(1, frozenset(Permission), ("1",), name="test")
    with models_db.write_session(db, 10_000) as session:
        session.execute(
            text("INSERT INTO users (id, email, display_name) VALUES (1, 'a@x.org', 'A')")
        )
        unit3 = session.scalar(text("SELECT id FROM org_units WHERE key = 'unit3'"))
        assert set_unit_active(session, admin, unit3, False) == 1
    records = [
        record(0, "kept", 1, "unit2", {"amount": 3.0}),
        record(1, "closed", 2, "unit3", {"amount": 4.0}),
    ]
    batch = publish_records(services.redis, services.settings, 1, "orders", records)
    jobs.trigger_drain(services, set(batch.partitions))
    run_burst_worker(services)

    stored = rows(db, "SELECT event_id FROM events ORDER BY 1")
    assert stored == [{"event_id": "kept"}]
    (quarantined,) = quarantine_rows(db)
    assert quarantined["rule"] == "unknown_org_unit"
    assert quarantined["reason"] == "org unit 'unit3' is deactivated and takes no new events"
