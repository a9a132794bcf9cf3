"""Session lifetime: what a signed-in session carries, when it ends, and ending them all.

Flask's session is a signed cookie held by the browser, so the server cannot delete it. A
session is therefore checked against the database on every request: it names the user's
``session_epoch`` at sign-in, and it ends when that epoch moved (sign-out, password change,
deactivation, an admin's "end all sessions"), when the password changed after sign-in, when the
user is deactivated, after ``session_idle_timeout_s`` without a request, and
``session_absolute_timeout_s`` after sign-in (docs/security.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import db as database
from models.admin import usage
from models.audit import Actor, record_change
from models.queries.principals import Account
from models.settings import Settings
from models.users import User

log = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Seconds since the epoch; injected so tests can move time without sleeping."""

SYSTEM_CLOCK: Clock = time.time

EPOCH = "ns_epoch"
SIGNED_IN_AT = "ns_iat"
LAST_SEEN = "ns_seen"
SESSION_ID = "ns_sid"
_KEYS = (EPOCH, SIGNED_IN_AT, LAST_SEEN, SESSION_ID)

TOUCH_EVERY_S = 15.0
"""Refresh the last-seen time at most this often: fewer cookie rewrites under polling."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    idle_s: float
    absolute_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        return cls(
            idle_s=float(settings.session_idle_timeout_s),
            absolute_s=float(settings.session_absolute_timeout_s),
        )


def start(session: MutableMapping[str, Any], account: Account, now: float) -> str:
    """Stamp a fresh session (the caller cleared it) for ``account``; returns its id."""
    session_id = secrets.token_urlsafe(16)
    session[EPOCH] = account.session_epoch
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN] = now
    session[SESSION_ID] = session_id
    return session_id


def session_id(session: MutableMapping[str, Any]) -> str | None:
    """The random id given to this session at sign-in (for logs), if any."""
    value = session.get(SESSION_ID)
    return value if isinstance(value, str) else None


def why_ended(
    session: MutableMapping[str, Any], account: Account, now: float, timeouts: Timeouts
) -> str | None:
    """Why this session may no longer act for ``account``, or None when it is still valid."""
    epoch = session.get(EPOCH)
    signed_in, seen = _number(session.get(SIGNED_IN_AT)), _number(session.get(LAST_SEEN))
    if not isinstance(epoch, int) or signed_in is None or seen is None:
        return "not a session stamped at sign-in"
    if not account.is_active:
        return "account deactivated"
    if epoch != account.session_epoch:
        return "sessions of this account were ended"
    changed = account.password_changed_at
    if changed is not None and changed.timestamp() > signed_in:
        return "password changed since sign-in"
    if now - signed_in >= timeouts.absolute_s:
        return "absolute timeout"
    if now - seen >= timeouts.idle_s:
        return "idle timeout"
    return None


def touch(session: MutableMapping[str, Any], now: float) -> None:
    """Record activity (only every few seconds, so polling does not rewrite the cookie)."""
    seen = _number(session.get(LAST_SEEN))
    if seen is not None and now - seen >= TOUCH_EVERY_S:
        session[LAST_SEEN] = now


def mark_grant_use(engine: Engine, account: Account, now: float, timeout_ms: int) -> None:
    """Mark the user's grants used today, on the first request of the day only (one small
    write a day per active user; docs/admin.md). A failed mark is logged and retried by the
    next request: it must not refuse a valid session."""
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    if not usage.is_stale(account.grants_used_at, at):
        return
    try:
        with database.write_session(engine, timeout_ms) as db:
            usage.record_grant_use(db.connection(), account.user_id, at)
    except SQLAlchemyError:
        log.warning("could not mark the grants of user %s as used", account.user_id, exc_info=True)


def forget(session: MutableMapping[str, Any]) -> None:
    for key in _KEYS:
        session.pop(key, None)


def end_all_sessions(db: Session, user_id: int, reason: str, actor: Actor | None = None) -> None:
    """End every session of a user, on every device, by moving their session epoch.

    Call it, in the same transaction, from whatever changes a password or deactivates a user
    (the per-request checks also refuse those on their own). With an ``actor`` (an admin ending
    someone's sessions) the change is audited; sign-out passes none and is in ``access_log``.
    """
    db.execute(update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1))
    if actor is not None:
        detail = {"reason": reason}
        record_change(db, actor, "user.sessions_ended", "user", user_id, detail=detail)


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
