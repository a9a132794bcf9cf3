"""Built-in roles: executive, steward and admin exist after ``northstar db upgrade``.

A data migration, so that a production install needs no demo seeding before its first
``northstar users create --role admin``. The roles are written as they are at this revision
(a test compares them with ``models.accounts.BUILTIN_ROLES``); later changes to them need a
migration of their own. Idempotent: a role that already exists (a database seeded before this
revision) is left as it is, and a custom role that took one of these keys is never touched.
Each role created is audited as ``role.create`` by ``system:migration``. The downgrade removes
only the built-in roles that nobody holds.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "system:migration"
_ALL = (
    "kpi:view",
    "event:view",
    "pii:view",
    "incident:manage",
    "quarantine:manage",
    "alert:manage",
    "source:manage",
    "user:manage",
    "audit:view",
)
ROLES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "executive",
        "Executive",
        "Sees the KPIs and events of their scope; no personal data.",
        ("kpi:view", "event:view"),
    ),
    (
        "steward",
        "Data steward",
        "Looks after data quality, incidents and quarantine.",
        ("kpi:view", "event:view", "pii:view", "incident:manage", "quarantine:manage"),
    ),
    (
        "admin",
        "Administrator",
        "Manages users, roles, sources and keys; reads the audit log.",
        _ALL,
    ),
)
"""(key, name, description, permissions) of each built-in role at this revision."""

_INSERT_ROLE = sa.text(
    "INSERT INTO roles (key, name, description, builtin) "
    "VALUES (:key, :name, :description, true) ON CONFLICT (key) DO NOTHING RETURNING id"
)
_INSERT_PERMISSION = sa.text(
    "INSERT INTO role_permissions (role_id, permission) "
    "VALUES (:role_id, CAST(:permission AS permission)) ON CONFLICT DO NOTHING"
)
_AUDIT = sa.text(
    "INSERT INTO audit_log (actor, action, target_type, target_id, after, detail) "
    "VALUES (:actor, 'role.create', 'role', :key, CAST(:after AS jsonb), "
    "CAST(:detail AS jsonb))"
)


def upgrade() -> None:
    connection = op.get_bind()
    for key, name, description, permissions in ROLES:
        role_id = connection.execute(
            _INSERT_ROLE, {"key": key, "name": name, "description": description}
        ).scalar_one_or_none()
        if role_id is None:  # there already: seeded earlier, or a custom role of that key
            continue
        for permission in permissions:
            connection.execute(_INSERT_PERMISSION, {"role_id": role_id, "permission": permission})
        after = {
            "name": name,
            "description": description,
            "builtin": True,
            "permissions": sorted(permissions),
        }
        connection.execute(
            _AUDIT,
            {
                "actor": ACTOR,
                "key": key,
                "after": json.dumps(after),
                "detail": json.dumps({"migration": revision}),
            },
        )


def downgrade() -> None:
    op.get_bind().execute(
        sa.text(
            "DELETE FROM roles r WHERE r.builtin AND r.key = ANY(:keys) "
            "AND NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.role_id = r.id)"
        ),
        {"keys": [role[0] for role in ROLES]},
    )
