"""Migration 0014: existing KPIs get version 1, the built-in admin role gets catalog:manage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from integration.factories import admin_engine, migrate_to, scratch_database, storage_setting
from models.settings import Settings, StorageBackend


@pytest.fixture(scope="module")
def scratch(settings: Settings) -> Iterator[Engine]:
    with (
        admin_engine(settings) as admin,
        scratch_database(admin, "kpiversions") as engine,
        storage_setting(StorageBackend.NATIVE),
    ):
        yield engine


def _admin_permissions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.execute(
                text(
                    "SELECT CAST(rp.permission AS text) FROM role_permissions rp "
                    "JOIN roles r ON r.id = rp.role_id WHERE r.key = 'admin'"
                )
            ).scalars()
        )


def test_existing_kpis_get_version_1_and_admin_gets_catalog_manage(scratch: Engine) -> None:
    migrate_to(scratch, "0013")
    with scratch.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO org_units (id, key, name, level, path) "
                "VALUES (1, 'acme', 'Acme', 'company', '1')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO kpis (key, name, owner_unit_id, formula, unit) "
                "VALUES ('revenue', 'Revenue', 1, 'sum(orders.amount)', 'EUR')"
            )
        )
    assert "catalog:manage" not in _admin_permissions(scratch)

    migrate_to(scratch, "head")
    with scratch.connect() as connection:
        rows = connection.execute(
            text("SELECT version, formula, unit, actor FROM kpi_versions")
        ).all()
        audited = connection.execute(
            text(
                "SELECT after FROM audit_log WHERE action = 'role.permissions' "
                "AND target_id = 'admin'"
            )
        ).scalar_one()
    assert [tuple(r) for r in rows] == [(1, "sum(orders.amount)", "EUR", "system:migration")]
    assert "catalog:manage" in _admin_permissions(scratch)
    assert "catalog:manage" in audited["permissions"]

    migrate_to(scratch, "0013", down=True)
    assert "catalog:manage" not in _admin_permissions(scratch)
    assert "audit:view" in _admin_permissions(scratch)
