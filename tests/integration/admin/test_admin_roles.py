"""Admin console, roles page over HTTP: the permission matrix, built-in roles read-only,
custom roles created and edited (audited, applied at the holders' next request), and the
rules that stop an admin from handing out more than they hold or locking themselves out."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from integration.admin_support import (
    Console,
    answer_text,
    audits,
    console,
    grants,
    permissions_of,
    role_id,
    snapshot,
)
from integration.auth_support import page_request
from integration.steward_support import Caller, texts
from models.permissions import ROLE_PERMISSIONS, Permission

__all__ = ["console"]  # fixture

UPDATE = "/_dash-update-component"
MATRIX, FORM, CREATE, SAVE = (
    "admin-roles-matrix",
    "admin-role-name",
    "admin-role-create-result",
    "admin-role-save-result",
)


def create(
    caller: Caller, key: str, name: str, permissions: list[str], description: str = ""
) -> str:
    return answer_text(caller, CREATE, 1, key, name, description, permissions)


def save(
    caller: Caller, role_id: Any, name: str, permissions: list[str], description: str = ""
) -> str:
    return answer_text(caller, SAVE, 1, role_id, name, description, permissions)


def find(node: Any, component_id: str) -> Any:
    """The component with this id in a callback answer."""
    if isinstance(node, dict):
        if node.get("id") == component_id:
            return node
        items: Any = node.values()
    elif isinstance(node, list):
        items = node
    else:
        return None
    for item in items:
        found = find(item, component_id)
        if found is not None:
            return found
    return None


def test_the_matrix_shows_every_roles_permission_set(console: Console) -> None:
    admin = console.caller("admin")
    shown = admin.answer(MATRIX, None, None)
    matrix = texts(shown)
    assert "Built-in" in matrix
    # One row per role: ✔ for each permission it holds, — for the others.
    for key, permissions in ROLE_PERMISSIONS.items():
        row = texts(find(shown, f"admin-role-row-{key}"))
        assert row.count("✔") == len(permissions), key
        assert row.count("—") == len(Permission) - len(permissions), key
    form = admin.answer(FORM, str(role_id(console.db, "executive")))
    assert form["admin-role-permissions"]["value"] == ["event:view", "kpi:view"]
    assert form["admin-role-save"]["disabled"] is True
    assert "read-only" in str(form["admin-role-note"]["children"])


def test_built_in_roles_cannot_be_edited_even_by_a_forged_save(console: Console) -> None:
    admin = console.caller("admin")
    before = snapshot(console.db)
    shown = save(
        admin, str(role_id(console.db, "executive")), "Executive", ["pii:view", "kpi:view"]
    )
    assert "built-in roles cannot be edited" in shown
    assert snapshot(console.db) == before


def overview(client: Any) -> str:
    """The Overview page as the client's user gets it (it needs kpi:view)."""
    return str(client.post(UPDATE, json=page_request("/")).get_data(as_text=True))


def test_a_custom_role_is_created_edited_and_audited(console: Console) -> None:
    admin = console.caller("admin")
    shown = create(admin, "auditor", "Auditor", ["audit:view"], "Reads the logs")
    assert "Role created" in shown
    assert permissions_of(console.db, "auditor") == ["audit:view"]
    (made,) = audits(console.db, "role.create")[-1:]
    assert made["actor"] == "Ada Admin"
    assert made["after"] == {"name": "Auditor", "description": "Reads the logs", "builtin": False}
    first = [a for a in audits(console.db, "role.permissions") if a["target_id"] == "auditor"]
    assert first[0]["before"] == {"permissions": []}
    assert first[0]["after"] == {"permissions": ["audit:view"]}
    assert "already exists" in create(admin, "auditor", "Again", ["kpi:view"])
    assert "role key" in create(admin, "Bad Key!", "Bad", ["kpi:view"])
    assert "at least one permission" in create(admin, "empty", "Empty", [])
    assert "Invalid input" in create(admin, "junk", "Junk", ["root:all"])

    # Eve gets only this role: no Overview. An edit reaches her at her next request.
    eve = console.client("executive")
    assert "overview-grid" in overview(eve)
    auditor = role_id(console.db, "auditor")
    eve_id, unit2 = str(console.users["executive"]), [console.units["unit2"]]
    admin.answer("admin-user-save-result", 1, eve_id, [auditor], unit2)
    assert grants(console.db, console.users["executive"])["roles"] == ["auditor"]
    assert "Not allowed: missing permission kpi:view." in overview(eve)
    kept = "Reads the logs"
    assert "Saved" in save(admin, str(auditor), "Auditor", ["audit:view", "kpi:view"], kept)
    assert "overview-grid" in overview(eve)
    changed = [a for a in audits(console.db, "role.permissions") if a["target_id"] == "auditor"]
    assert changed[-1]["actor"] == "Ada Admin"
    assert changed[-1]["before"] == {"permissions": ["audit:view"]}
    assert changed[-1]["after"] == {"permissions": ["audit:view", "kpi:view"]}
    assert not audits(console.db, "role.update")
    renamed = save(admin, str(auditor), "Log reader", ["audit:view", "kpi:view"], kept)
    assert "Saved" in renamed
    (update,) = audits(console.db, "role.update")
    assert (update["before"], update["after"]) == ({"name": "Auditor"}, {"name": "Log reader"})
    assert "No change" in save(admin, str(auditor), "Log reader", ["audit:view", "kpi:view"], kept)


def test_an_admin_hands_out_only_permissions_they_hold(console: Console, db: Engine) -> None:
    admin = console.caller("admin")
    create(admin, "people", "People admin", ["user:manage", "kpi:view"])
    people = role_id(db, "people")
    # Bob holds only the "people" role: he may manage users but not give what he lacks.
    with db.begin() as connection:
        connection.execute(
            text("UPDATE user_roles SET role_id = :r WHERE user_id = :u"),
            {"r": people, "u": console.users["admin2"]},
        )
    bob = console.caller("admin2")
    before = snapshot(db)
    assert "pii:view" in create(bob, "snoop", "Snoop", ["pii:view", "kpi:view"])
    assert "which you do not hold" in create(bob, "snoop", "Snoop", ["pii:view", "kpi:view"])
    eve = str(console.users["executive"])
    admin_role = console.roles["admin"]
    shown = answer_text(
        bob, "admin-user-save-result", 1, eve, [admin_role], [console.units["unit2"]]
    )
    assert "which you do not hold" in shown
    form = bob.answer("admin-user-info", eve, *(None,) * 5)
    assert form["admin-user-info"] is not None
    assert snapshot(db) == before
    # Nor lock themselves out by editing user:manage away from their own role.
    assert "take user:manage away from you" in save(bob, str(people), "People admin", ["kpi:view"])
    assert permissions_of(db, "people") == ["kpi:view", "user:manage"]


@pytest.mark.parametrize("who", ["executive", "steward", "no_role"])
def test_non_admins_forging_the_roles_callbacks_change_nothing(console: Console, who: str) -> None:
    caller = console.caller(who)
    assert "Not allowed: missing permission user:manage." in caller.page("/admin/roles")
    before = snapshot(console.db)
    admin_id = str(console.roles["admin"])
    calls: list[tuple[str, tuple[Any, ...]]] = [
        (MATRIX, (None, None)),
        (FORM, (admin_id,)),
        (CREATE, (1, "mine", "Mine", "", [p.value for p in Permission])),
        (
            SAVE,
            (1, str(console.roles["executive"]), "Executive", "", [p.value for p in Permission]),
        ),
    ]
    for output, values in calls:
        assert "Not allowed: missing permission user:manage." in answer_text(
            caller, output, *values
        )
    assert snapshot(console.db) == before
