"""The one-time link a ``/invite/<token>`` request names, if it is still valid."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.admin.links import MAX_TOKEN, hash_token
from models.admin.tables import LinkPurpose


@dataclass(frozen=True, slots=True)
class OpenLink:
    purpose: LinkPurpose
    email: str
    name: str
    expires_at: dt.datetime


_OPEN = """
SELECT CAST(i.purpose AS text) AS purpose, u.email,
       coalesce(nullif(u.display_name, ''), u.email) AS name, i.expires_at
FROM invitations i JOIN users u ON u.id = i.user_id
WHERE i.token_hash = :token_hash AND i.used_at IS NULL AND i.revoked_at IS NULL
  AND i.expires_at > :now AND u.is_active
"""


def open_link(connection: Connection, token: str, now: dt.datetime) -> OpenLink | None:
    """The link with this token if it is unused, not revoked, not expired and its user
    active; None otherwise (whatever the reason, so the answer reveals nothing)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    row = (
        connection.execute(text(_OPEN), {"token_hash": hash_token(token), "now": now})
        .mappings()
        .first()
    )
    if row is None:
        return None
    return OpenLink(LinkPurpose(row["purpose"]), row["email"], row["name"], row["expires_at"])
