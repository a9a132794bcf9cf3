"""Tables of the admin console: one-time account links and access review campaigns."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

# The tables these reference must be in the metadata wherever these rows are flushed.
from models import org, users  # noqa: F401
from models.base import Base, CreatedAt, IntPK
from models.types import value_enum


class LinkPurpose(StrEnum):
    """Why a one-time link was made: a new user's invitation, or a password reset."""

    INVITE = "invite"
    RESET = "reset"


class ReviewState(StrEnum):
    """``open`` while some grant waits for a decision; ``closed`` once every one has one."""

    OPEN = "open"
    CLOSED = "closed"


class GrantKind(StrEnum):
    """What a reviewed grant gives: a role (its permissions) or an org-unit subtree."""

    ROLE = "role"
    SCOPE = "scope"


class Decision(StrEnum):
    CERTIFY = "certify"
    REVOKE = "revoke"


class Invitation(Base):
    """A one-time link to set a password (``/invite/<token>``); only the token's SHA-256 is kept.

    A link is valid while it is unused, not revoked (a newer link, deactivation) and not
    expired.
    """

    __tablename__ = "invitations"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[LinkPurpose] = mapped_column(value_enum(LinkPurpose, "link_purpose"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[CreatedAt]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class AccessReview(Base):
    """A quarterly campaign: one reviewer certifies or revokes each grant it snapshotted."""

    __tablename__ = "access_reviews"
    __table_args__ = (
        UniqueConstraint("quarter", "reviewer_id"),
        CheckConstraint("quarter ~ '^[0-9]{4}-Q[1-4]$'", name="quarter_format"),
    )

    id: Mapped[IntPK]
    quarter: Mapped[str] = mapped_column(String(7))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[dt.date]
    state: Mapped[ReviewState] = mapped_column(
        value_enum(ReviewState, "access_review_state"), server_default=ReviewState.OPEN.value
    )
    unused_days: Mapped[int]
    """The threshold the items' ``flagged`` was computed with."""
    created_at: Mapped[CreatedAt]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None]


class AccessReviewItem(Base):
    """One grant of one user in a campaign, as it was when the campaign started, and its
    decision. The grant's name is kept so the record survives the role or unit."""

    __tablename__ = "access_review_items"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'role' AND org_unit_id IS NULL) OR (kind = 'scope' AND role_id IS NULL)",
            name="one_grant",
        ),
        CheckConstraint("(decision IS NULL) = (decided_at IS NULL)", name="decided_together"),
        Index(
            "uq_access_review_items_grant",
            "review_id",
            "user_id",
            "kind",
            text("coalesce(role_id, 0)"),
            text("coalesce(org_unit_id, 0)"),
            unique=True,
        ),
    )

    id: Mapped[IntPK]
    review_id: Mapped[int] = mapped_column(
        ForeignKey("access_reviews.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[GrantKind] = mapped_column(value_enum(GrantKind, "grant_kind"))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id", ondelete="SET NULL"))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="SET NULL"))
    grant_name: Mapped[str]
    granted_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    flagged: Mapped[bool]
    """Unused for the campaign's ``unused_days`` when it started."""
    decision: Mapped[Decision | None] = mapped_column(value_enum(Decision, "review_decision"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    note: Mapped[str] = mapped_column(server_default="")
