"""Org units can be deactivated; the ``catalog:manage`` permission, granted to the admin role.

Adds ``org_units.active`` (true for every existing unit). A deactivated unit keeps its history
but leaves the pickers and takes no new events (the worker quarantines them).

Adds ``catalog:manage`` to the ``permission`` type. ``ALTER TYPE ... ADD VALUE`` cannot be used
in the transaction that adds it, and the whole upgrade runs in one transaction, so the type is
rebuilt with the new value instead (only ``role_permissions.permission`` uses it); a database
whose type already has the value is left alone. The built-in ``admin`` role, if it exists,
gets the permission (audited as ``role.update`` by ``system:migration``).

The downgrade drops the column and every grant of ``catalog:manage``; the value stays in the
type (harmless, and the upgrade then skips the rebuild).

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "system:migration"
PERMISSION = "catalog:manage"
_HAS_VALUE = sa.text(
    "SELECT EXISTS (SELECT 1 FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
    "WHERE t.typname = 'permission' AND e.enumlabel = :value)"
)
_LABELS = sa.text(
    "SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
    "WHERE t.typname = 'permission' ORDER BY e.enumsortorder"
)
_GRANT = sa.text(
    "INSERT INTO role_permissions (role_id, permission) "
    "SELECT id, CAST(:permission AS permission) FROM roles WHERE key = 'admin' AND builtin "
    "ON CONFLICT DO NOTHING RETURNING role_id"
)
_AUDIT = sa.text(
    "INSERT INTO audit_log (actor, action, target_type, target_id, before, after, detail) "
    "VALUES (:actor, 'role.update', 'role', 'admin', CAST(:before AS jsonb), "
    "CAST(:after AS jsonb), CAST(:detail AS jsonb))"
)


def _add_permission_value(connection: sa.Connection) -> None:
    if connection.execute(_HAS_VALUE, {"value": PERMISSION}).scalar_one():
        return
    labels = [*connection.execute(_LABELS).scalars(), PERMISSION]
    quoted = ", ".join("'" + label.replace("'", "''") + "'" for label in labels)
    op.execute("ALTER TYPE permission RENAME TO permission_old")
    op.execute(f"CREATE TYPE permission AS ENUM ({quoted})")
    op.execute(
        "ALTER TABLE role_permissions ALTER COLUMN permission TYPE permission "
        "USING CAST(CAST(permission AS text) AS permission)"
    )
    op.execute("DROP TYPE permission_old")


def upgrade() -> None:
    op.add_column(
        "org_units",
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    connection = op.get_bind()
    _add_permission_value(connection)
    granted = connection.execute(_GRANT, {"permission": PERMISSION}).scalar_one_or_none()
    if granted is not None:
        connection.execute(
            _AUDIT,
            {
                "actor": ACTOR,
                "before": json.dumps({"permissions_added": []}),
                "after": json.dumps({"permissions_added": [PERMISSION]}),
                "detail": json.dumps({"migration": revision}),
            },
        )


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("DELETE FROM role_permissions WHERE CAST(permission AS text) = :p"),
        {"p": PERMISSION},
    )
    op.drop_column("org_units", "active")
