"""The organisation: a hierarchy of units stored with a materialised ``ltree`` path."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, IntPK, Key, LTree
from models.enums import OrgLevel
from models.types import value_enum


class OrgUnit(Base):
    """A company, region, country or business unit; ``path`` is the ids from the root."""

    __tablename__ = "org_units"
    __table_args__ = (Index("ix_org_units_path_gist", "path", postgresql_using="gist"),)

    id: Mapped[IntPK]
    key: Mapped[Key]
    name: Mapped[str]
    level: Mapped[OrgLevel] = mapped_column(value_enum(OrgLevel, "org_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    path: Mapped[str] = mapped_column(LTree(), unique=True)
    active: Mapped[bool] = mapped_column(server_default="true")
    """False once deactivated: the unit keeps its history, leaves the pickers and takes no new
    events (they are quarantined)."""
    created_at: Mapped[CreatedAt]
