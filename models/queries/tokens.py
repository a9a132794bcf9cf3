"""Personal access tokens as their users and the read API see them (``models.tokens``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from models.tokens import MAX_TOKEN, TOKEN_PREFIX, AccessToken, hash_token

MAX_TOKENS = 200


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as its owner's list shows it (never the token itself)."""

    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The outcome of presenting a token: its id and user when valid, else the reason."""

    token_id: int | None
    user_id: int | None
    refused: str | None


def user_tokens(connection: Connection, user_id: int) -> list[TokenRow]:
    """The user's tokens, newest first (revoked and expired ones included)."""
    rows = connection.execute(
        select(
            AccessToken.id,
            AccessToken.name,
            AccessToken.prefix,
            AccessToken.created_at,
            AccessToken.expires_at,
            AccessToken.last_used_at,
            AccessToken.revoked_at,
        )
        .where(AccessToken.user_id == user_id)
        .order_by(AccessToken.created_at.desc(), AccessToken.id.desc())
        .limit(MAX_TOKENS)
    )
    return [TokenRow(*row) for row in rows]


def check_token(connection: Connection, plaintext: str, now: dt.datetime) -> TokenCheck:
    """Whether ``plaintext`` is a valid personal access token at ``now``, and whose.

    The reasons name the token only by its prefix; the user's own state (deactivated) is
    checked by the caller with the user's account, on every call.
    """
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > MAX_TOKEN:
        return TokenCheck(None, None, "not a personal access token (nsp_…)")
    row = connection.execute(
        select(AccessToken.id, AccessToken.user_id, AccessToken.prefix)
        .add_columns(AccessToken.expires_at, AccessToken.revoked_at)
        .where(AccessToken.token_hash == hash_token(plaintext))
    ).first()
    if row is None:
        return TokenCheck(None, None, "unknown token")
    token_id, user_id, prefix, expires_at, revoked_at = row
    if revoked_at is not None:
        return TokenCheck(
            token_id,
            user_id,
            f"token nsp_{prefix}_… was revoked at {revoked_at:%Y-%m-%d %H:%M} UTC",
        )
    if expires_at is not None and expires_at <= now:
        return TokenCheck(
            token_id, user_id, f"token nsp_{prefix}_… expired at {expires_at:%Y-%m-%d %H:%M} UTC"
        )
    return TokenCheck(token_id, user_id, None)
