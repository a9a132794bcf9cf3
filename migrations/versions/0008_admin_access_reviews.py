"""Admin console: invitations and access review campaigns.

One-time account links (invitations and password resets, stored as the token's SHA-256),
quarterly access review campaigns with one item per grant, and ``user_scopes.last_used_at``
so scope grants are tracked like role grants.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)
_TYPES = ("link_purpose", "access_review_state", "grant_kind", "review_decision")


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.add_column("user_scopes", sa.Column("last_used_at", _TZ, nullable=True))
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Enum("invite", "reset", name="link_purpose"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TZ, server_default=_now(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("expires_at", _TZ, nullable=False),
        sa.Column("used_at", _TZ, nullable=True),
        sa.Column("revoked_at", _TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_invitations_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_invitations_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_user_id"), "invitations", ["user_id"], unique=False)
    _create_reviews()
    _create_review_items()


def _create_reviews() -> None:
    op.create_table(
        "access_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("open", "closed", name="access_review_state"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("unused_days", sa.Integer(), nullable=False),
        sa.Column("created_at", _TZ, server_default=_now(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("closed_at", _TZ, nullable=True),
        sa.CheckConstraint(
            "quarter ~ '^[0-9]{4}-Q[1-4]$'", name=op.f("ck_access_reviews_quarter_format")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_access_reviews_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_access_reviews_reviewer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_reviews")),
        sa.UniqueConstraint(
            "quarter", "reviewer_id", name=op.f("uq_access_reviews_quarter_reviewer_id")
        ),
    )


def _create_review_items() -> None:
    op.create_table(
        "access_review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("role", "scope", name="grant_kind"), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=True),
        sa.Column("org_unit_id", sa.Integer(), nullable=True),
        sa.Column("grant_name", sa.Text(), nullable=False),
        sa.Column("granted_at", _TZ, nullable=False),
        sa.Column("last_used_at", _TZ, nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.Enum("certify", "revoke", name="review_decision"), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", _TZ, nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "(kind = 'role' AND org_unit_id IS NULL) OR (kind = 'scope' AND role_id IS NULL)",
            name=op.f("ck_access_review_items_one_grant"),
        ),
        sa.CheckConstraint(
            "(decision IS NULL) = (decided_at IS NULL)",
            name=op.f("ck_access_review_items_decided_together"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_access_review_items_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"],
            ["org_units.id"],
            name=op.f("fk_access_review_items_org_unit_id_org_units"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["access_reviews.id"],
            name=op.f("fk_access_review_items_review_id_access_reviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["roles.id"],
            name=op.f("fk_access_review_items_role_id_roles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_access_review_items_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_review_items")),
    )
    op.create_index(op.f("ix_access_review_items_review_id"), "access_review_items", ["review_id"])
    op.create_index(op.f("ix_access_review_items_user_id"), "access_review_items", ["user_id"])
    op.create_index(
        "uq_access_review_items_grant",
        "access_review_items",
        [
            "review_id",
            "user_id",
            "kind",
            sa.literal_column("coalesce(role_id, 0)"),
            sa.literal_column("coalesce(org_unit_id, 0)"),
        ],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("access_review_items")
    op.drop_table("access_reviews")
    op.drop_table("invitations")
    op.drop_column("user_scopes", "last_used_at")
    for name in _TYPES:
        op.execute(f"DROP TYPE IF EXISTS {name}")
