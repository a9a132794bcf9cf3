"""Migration 0011: an empty database upgraded to head has the built-in roles, and only them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from integration.factories import admin_engine, migrate_to, scratch_database, storage_setting
from models.accounts import BUILTIN_ROLES
from models.settings import Settings, StorageBackend


@pytest.fixture(scope="module")
def scratch(settings: Settings) -> Iterator[Engine]:
    with (
        admin_engine(settings) as admin,
        scratch_database(admin, "bootstrap") as engine,
        storage_setting(StorageBackend.NATIVE),
    ):
        yield engine


def roles(engine: Engine) -> dict[str, set[str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT r.key, CAST(rp.permission AS text) FROM roles r "
                "LEFT JOIN role_permissions rp ON rp.role_id = r.id WHERE r.builtin"
            )
        )
        found: dict[str, set[str]] = {}
        for key, permission in rows:
            found.setdefault(key, set()).update({permission} if permission else set())
        return found


def test_an_upgraded_empty_database_has_the_builtin_roles_audited(scratch: Engine) -> None:
    migrate_to(scratch, "head")

    assert roles(scratch) == {
        spec.key: {p.value for p in spec.permissions} for spec in BUILTIN_ROLES
    }
    with scratch.connect() as connection:
        audited = connection.execute(
            text("SELECT target_id FROM audit_log WHERE action = 'role.create' ORDER BY 1")
        ).scalars()
        assert list(audited) == sorted(spec.key for spec in BUILTIN_ROLES)
        names = dict(connection.execute(text("SELECT key, name FROM roles")).tuples().all())
    assert names == {spec.key: spec.name for spec in BUILTIN_ROLES}


def test_downgrade_keeps_held_roles_and_upgrade_adds_only_the_missing(scratch: Engine) -> None:
    migrate_to(scratch, "head")
    with scratch.begin() as connection:
        connection.execute(text("DELETE FROM role_permissions WHERE permission = 'audit:view'"))
        user_id = connection.execute(
            text(
                "INSERT INTO users (email, display_name) VALUES ('a@example.com', 'A') RETURNING id"
            )
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO user_roles (user_id, role_id) "
                "SELECT :user_id, id FROM roles WHERE key = 'admin'"
            ),
            {"user_id": user_id},
        )

    migrate_to(scratch, "0010", down=True)
    assert set(roles(scratch)) == {"admin"}  # held: kept

    migrate_to(scratch, "head")
    found = roles(scratch)
    assert set(found) == {"executive", "steward", "admin"}
    assert "audit:view" not in found["admin"]  # an existing role is left as it is
    with scratch.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM roles")).scalar_one()
    assert count == 3
