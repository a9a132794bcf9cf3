"""Personal access tokens: a user's bearer tokens for the read API (``/api/v1/kpis``).

A token is ``nsp_<prefix>_<secret>``: the prefix (8 hex digits) names it in lists, the whole
token is stored only as its SHA-256 (like source API keys: 256 random bits need no slow hash),
and the plaintext is returned once, by :func:`create_token`. A token carries no rights of its
own: every call runs as its user, with the user's permissions and scope as they are at that
moment, so a deactivated user's tokens stop working at once. Creating and revoking are audited;
committing is left to the caller.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import ForeignKey, String, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models import users  # noqa: F401  # the referenced table, in the metadata
from models.audit import Actor, record_change
from models.base import Base, CreatedAt, IntPK

TOKEN_PREFIX = "nsp_"  # noqa: S105  # a fixed marker, not a secret
MAX_NAME = 100
MAX_TOKEN = 200
MAX_EXPIRES_DAYS = 3650


class TokenError(ValueError):
    """A token that cannot be made or revoked as asked; the message says why."""


class AccessToken(Base):
    """A personal access token of a user (only its SHA-256 is kept)."""

    __tablename__ = "access_tokens"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[CreatedAt]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


def hash_token(plaintext: str) -> str:
    """The stored form of a token: SHA-256, hex."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def token_name(value: str) -> str:
    """A token's name, stripped; TokenError when empty or too long."""
    name = value.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise TokenError(f"a token name needs 1 to {MAX_NAME} printable characters")
    return name


def expiry(now: dt.datetime, days: int | None) -> dt.datetime | None:
    """When a token made at ``now`` for ``days`` expires (None: never)."""
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRES_DAYS:
        raise TokenError(f"a token expires after 1 to {MAX_EXPIRES_DAYS} days")
    return now + dt.timedelta(days=days)


def create_token(
    session: Session,
    user_id: int,
    name: str,
    actor: Actor,
    expires_at: dt.datetime | None = None,
) -> tuple[str, AccessToken]:
    """Add a token for ``user_id`` (audited) and return its plaintext, once, with its row."""
    prefix = secrets.token_hex(4)
    plaintext = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = AccessToken(
        user_id=user_id,
        name=token_name(name),
        prefix=prefix,
        token_hash=hash_token(plaintext),
        created_by=actor.user_id,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    after = {"token": row.id, "prefix": prefix, "name": row.name, "expires_at": expires_at}
    record_change(session, actor, "access_token.create", "user", user_id, after=after)
    return plaintext, row


def revoke_token(
    session: Session, user_id: int, token_id: int, actor: Actor, now: dt.datetime
) -> AccessToken:
    """Revoke the user's token ``token_id`` (audited); TokenError when the user has no such
    token or it is already revoked. Another user's token is "no such token": no probing."""
    row = session.get(AccessToken, token_id, with_for_update=True)
    if row is None or row.user_id != user_id:
        raise TokenError("no such token among yours")
    if row.revoked_at is not None:
        raise TokenError(f"token nsp_{row.prefix}_… is already revoked")
    row.revoked_at = now
    session.flush()
    record_change(
        session,
        actor,
        "access_token.revoke",
        "user",
        user_id,
        before={"token": row.id, "prefix": row.prefix, "revoked_at": None},
        after={"token": row.id, "prefix": row.prefix, "revoked_at": now},
    )
    return row


def touch_token(session: Session, token_id: int, at: dt.datetime) -> None:
    """Record a use at ``at``, at most once a minute per token (an older time never wins)."""
    session.execute(
        update(AccessToken)
        .where(
            AccessToken.id == token_id,
            (AccessToken.last_used_at.is_(None))
            | (AccessToken.last_used_at < at - dt.timedelta(minutes=1)),
        )
        .values(last_used_at=at)
    )
