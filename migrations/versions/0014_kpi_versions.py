"""KPI definition versions, and the ``catalog:manage`` permission of the built-in admin role.

Adds ``kpi_versions``: one row per definition of a KPI (formula, unit, format, direction, who,
when and why); the highest version of a KPI is its current definition. Every existing KPI gets
version 1, its current definition, written by ``system:migration``.

Adds the permission ``catalog:manage`` (edit KPI definitions on the admin console) and grants it
to the built-in admin role (audited as ``role.permissions``). PostgreSQL cannot use an enum
value added in the same transaction, and migrations run in one transaction, so the
``permission`` type is rebuilt with the new value instead of altered. The downgrade removes the
grants of the permission, the value and the table.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "system:migration"
NEW = "catalog:manage"
_BEFORE = (
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


def _rebuild_permission_type(values: Sequence[str]) -> None:
    """Replace the ``permission`` enum by one holding exactly ``values`` (see the module)."""
    bind = op.get_bind()
    postgresql.ENUM(*values, name="permission_new").create(bind, checkfirst=False)
    op.execute(
        "ALTER TABLE role_permissions ALTER COLUMN permission TYPE permission_new "
        "USING CAST(CAST(permission AS text) AS permission_new)"
    )
    op.execute("DROP TYPE permission")
    op.execute("ALTER TYPE permission_new RENAME TO permission")


def upgrade() -> None:
    op.create_table(
        "kpi_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), server_default="", nullable=False),
        sa.Column("format", sa.Text(), server_default=",.2f", nullable=False),
        sa.Column(
            "direction",
            postgresql.ENUM(name="direction", create_type=False),
            nullable=False,
        ),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("actor", sa.Text(), server_default="", nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["kpi_id"], ["kpis.id"], name=op.f("fk_kpi_versions_kpi_id_kpis"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["users.id"],
            name=op.f("fk_kpi_versions_changed_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_versions")),
        sa.UniqueConstraint("kpi_id", "version", name=op.f("uq_kpi_versions_kpi_id_version")),
    )
    op.execute(
        sa.text(
            "INSERT INTO kpi_versions (kpi_id, version, formula, unit, format, direction, actor, "
            "comment, created_at) SELECT id, 1, formula, unit, format, direction, :actor, "
            "'the definition when versions began', created_at FROM kpis"
        ).bindparams(actor=ACTOR)
    )
    _rebuild_permission_type((*_BEFORE, NEW))
    _grant_admin()


def _grant_admin() -> None:
    """Give the built-in admin role the new permission (audited), if that role exists."""
    bind = op.get_bind()
    role_id = bind.execute(
        sa.text("SELECT id FROM roles WHERE key = 'admin' AND builtin")
    ).scalar_one_or_none()
    if role_id is None:
        return
    held = sorted(
        bind.execute(
            sa.text("SELECT CAST(permission AS text) FROM role_permissions WHERE role_id = :r"),
            {"r": role_id},
        ).scalars()
    )
    inserted = bind.execute(
        sa.text(
            "INSERT INTO role_permissions (role_id, permission) "
            "VALUES (:role_id, CAST(:permission AS permission)) "
            "ON CONFLICT DO NOTHING RETURNING role_id"
        ),
        {"role_id": role_id, "permission": NEW},
    ).scalar_one_or_none()
    if inserted is None:
        return
    bind.execute(
        sa.text(
            "INSERT INTO audit_log (actor, action, target_type, target_id, before, after, detail) "
            "VALUES (:actor, 'role.permissions', 'role', 'admin', CAST(:before AS jsonb), "
            "CAST(:after AS jsonb), CAST(:detail AS jsonb))"
        ),
        {
            "actor": ACTOR,
            "before": json.dumps({"permissions": held}),
            "after": json.dumps({"permissions": sorted({*held, NEW})}),
            "detail": json.dumps({"migration": revision}),
        },
    )


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM role_permissions WHERE CAST(permission AS text) = :p").bindparams(
            p=NEW
        )
    )
    _rebuild_permission_type(_BEFORE)
    op.drop_table("kpi_versions")
