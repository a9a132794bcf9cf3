"""One-time links to set a password: invitations of new users and password resets.

The link carries a random token of 256 bits; only its SHA-256 is stored (like source API keys:
a slow hash is not needed for a secret nobody chose), so a copy of the database opens nothing.
A user has at most one open link: a new one revokes the others, and so does deactivation.
Using a link sets the password, marks the link used and ends every session of the user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.accounts import hash_password
from models.admin.rules import AdminError
from models.admin.tables import Invitation, LinkPurpose
from models.audit import Actor, record_change
from models.settings import Environment, Settings
from models.users import User

INVITE_PATH = "/invite/"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_TOKEN = 100


class InvalidLink(ValueError):
    """The link is unknown, used, revoked or expired: one answer for all, so nothing leaks."""


def link_base(settings: Settings, request_host_url: str) -> str:
    """Where one-time links point: ``NORTHSTAR_PUBLIC_URL``, without a trailing slash.

    Only outside production (where the setting is required at start-up) may it be unset;
    then the address the admin's request reached is used. Production without it refuses
    (AdminError) rather than take the host from a request, which the client chooses: a forged
    ``Host`` header would point a reset link at another site. Call it before making the link,
    so a refusal loses no token.
    """
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if settings.env is Environment.PRODUCTION:
        raise AdminError("NORTHSTAR_PUBLIC_URL is not set, so no link can be made")
    return request_host_url.rstrip("/")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str, email: str) -> None:
    """Refuse passwords that are too short, too long, or the e-mail address itself."""
    if len(password) < MIN_PASSWORD:
        raise AdminError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AdminError(f"a password may have at most {MAX_PASSWORD} characters")
    if password.strip().lower() == email.strip().lower():
        raise AdminError("the password must not be the e-mail address")


def revoke_links(session: Session, user_id: int, now: dt.datetime) -> int:
    """Revoke the user's open links; returns how many were open."""
    result = session.execute(
        update(Invitation)
        .where(
            Invitation.user_id == user_id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def issue_link(
    session: Session,
    user_id: int,
    purpose: LinkPurpose,
    actor: Actor,
    now: dt.datetime,
    ttl: dt.timedelta,
) -> str:
    """Make a new link for the user (revoking older ones), audited; returns its token, once."""
    revoked = revoke_links(session, user_id, now)
    token = secrets.token_urlsafe(32)
    expires_at = now + ttl
    session.add(
        Invitation(
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_token(token),
            created_by=actor.user_id,
            expires_at=expires_at,
        )
    )
    session.flush()
    record_change(
        session,
        actor,
        f"user.{purpose.value}_link",
        "user",
        user_id,
        before={"open_links": revoked},
        after={"open_links": 1, "purpose": purpose, "expires_at": expires_at},
    )
    return token


def _valid_link(session: Session, token: str, now: dt.datetime) -> tuple[Invitation, User]:
    """The open link with this token and its active user, both locked; InvalidLink otherwise."""
    if not token or len(token) > MAX_TOKEN:
        raise InvalidLink("invalid link")
    link = session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token)).with_for_update()
    )
    if link is None or link.used_at is not None or link.revoked_at is not None:
        raise InvalidLink("invalid link")
    user = session.get(User, link.user_id, with_for_update=True)
    if link.expires_at <= now or user is None or not user.is_active:
        raise InvalidLink("invalid link")
    return link, user


def redeem_link(session: Session, token: str, password: str, now: dt.datetime) -> int:
    """Set the password of the link's user and spend the link; returns the user's id.

    The user's sessions end (a reset after a compromise must shut the intruder out), and
    the change is audited with the user as the actor.

    Raises:
        InvalidLink: unknown, used, revoked or expired link, or a deactivated user.
        AdminError: the password does not meet the rules.
    """
    link, user = _valid_link(session, token, now)
    check_password(password, user.email)
    had_password = user.password_hash is not None
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.session_epoch = user.session_epoch + 1
    link.used_at = now
    session.flush()
    record_change(
        session,
        Actor(user.display_name or user.email, user.id),
        "user.password_set",
        "user",
        user.id,
        before={"password_set": had_password},
        after={"password_set": True},
        detail={"via": link.purpose, "link": link.id},
    )
    return user.id
