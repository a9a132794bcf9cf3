"""Users, roles, the permissions of each role, and the org-unit scopes users are granted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, IntPK, Key
from models.permissions import Permission
from models.types import value_enum


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_lower_email", text("lower(email)"), unique=True),)

    id: Mapped[IntPK]
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str]
    password_hash: Mapped[str | None]
    is_active: Mapped[bool] = mapped_column(server_default="true")
    is_demo: Mapped[bool] = mapped_column(server_default="false")
    session_epoch: Mapped[int] = mapped_column(server_default="0")
    password_changed_at: Mapped[dt.datetime | None]
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[CreatedAt]


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[IntPK]
    key: Mapped[Key]
    name: Mapped[str]
    description: Mapped[str] = mapped_column(server_default="")
    builtin: Mapped[bool] = mapped_column(server_default="false")
    created_at: Mapped[CreatedAt]


class RolePermission(Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[Permission] = mapped_column(
        value_enum(Permission, "permission"), primary_key=True
    )


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    granted_at: Mapped[CreatedAt]
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[dt.datetime | None]


class UserScope(Base):
    """A grant of one org-unit subtree to a user."""

    __tablename__ = "user_scopes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    org_unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_units.id", ondelete="CASCADE"), primary_key=True
    )
    granted_at: Mapped[CreatedAt]
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[dt.datetime | None]
    """The last day the user made a request with this grant (models.admin.usage)."""
