"""Source API keys (created, listed, revoked, verified) and the catalogue the ingest edge caches.

A key is ``ns_<prefix>_<secret>``: the prefix (8 hex digits) names it in lists and logs, the
whole key is stored only as its SHA-256 hex digest. A slow password hash is not needed: the key
has 256 random bits, so its digest cannot be brute-forced. The plaintext is returned once, by
:func:`create_key`, and never stored or logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from models.audit import Actor, record_change
from models.sources import Source, SourceApiKey, SourceContract

KEY_PREFIX = "ns_"


def hash_key(plaintext: str) -> str:
    """The stored form of a key: SHA-256, hex."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_key(
    session: Session,
    source: Source,
    actor: Actor,
    label: str = "",
    expires_at: dt.datetime | None = None,
) -> str:
    """Add a key to ``source`` (audited; the caller commits) and return its plaintext, once."""
    prefix = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = SourceApiKey(
        source_id=source.id,
        prefix=prefix,
        key_hash=hash_key(plaintext),
        label=label,
        created_by=actor.user_id,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    after = {"prefix": prefix, "label": label, "expires_at": expires_at}
    record_change(session, actor, "source_api_key.create", "source", source.key, after=after)
    return plaintext


def _find_key(session: Session, key_id_or_prefix: int | str) -> SourceApiKey:
    text = str(key_id_or_prefix).removeprefix(KEY_PREFIX).split("_", 1)[0]
    if text.isdigit() and len(text) < 8:
        found = session.get(SourceApiKey, int(text))
    else:
        found = session.scalar(select(SourceApiKey).where(SourceApiKey.prefix == text))
    if found is None:
        raise LookupError(f"no API key with id or prefix {text!r}")
    return found


def revoke_key(session: Session, key_id_or_prefix: int | str, actor: Actor) -> SourceApiKey:
    """Revoke a key by id or prefix (audited; the caller commits). Revoking twice is a no-op.

    Raises:
        LookupError: no key has that id or prefix.
    """
    key = _find_key(session, key_id_or_prefix)
    if key.revoked_at is None:
        source_key = session.scalar(select(Source.key).where(Source.id == key.source_id))
        revoke(session, key, actor, source_key)
    return key


def revoke(session: Session, key: SourceApiKey, actor: Actor, source_key: str | None) -> None:
    """Revoke ``key`` now (audited with before and after; the caller commits). The ingest
    edge refuses it once the caller has bumped the catalogue version after the commit."""
    key.revoked_at = dt.datetime.now(dt.UTC)
    record_change(
        session,
        actor,
        "source_api_key.revoke",
        "source",
        source_key,
        before={"prefix": key.prefix, "label": key.label, "revoked_at": None},
        after={"prefix": key.prefix, "label": key.label, "revoked_at": key.revoked_at},
    )
    session.flush()


def list_keys(session: Session, source: Source) -> list[SourceApiKey]:
    """The keys of ``source``, oldest first (hashes included; never show them)."""
    return list(
        session.scalars(
            select(SourceApiKey)
            .where(SourceApiKey.source_id == source.id)
            .order_by(SourceApiKey.created_at, SourceApiKey.id)
        )
    )


def verify_key(
    connection: Connection | Session, plaintext: str, *, now: dt.datetime | None = None
) -> tuple[int, int] | None:
    """``(source_id, key_id)`` of a valid key (known, not revoked, not expired), else None."""
    now = now or dt.datetime.now(dt.UTC)
    row = connection.execute(
        select(SourceApiKey.source_id, SourceApiKey.id).where(
            SourceApiKey.key_hash == hash_key(plaintext),
            SourceApiKey.revoked_at.is_(None),
            (SourceApiKey.expires_at.is_(None)) | (SourceApiKey.expires_at > now),
        )
    ).first()
    return None if row is None else (row[0], row[1])


def touch_key(connection: Connection, key_id: int, at: dt.datetime) -> None:
    """Record that the key was used at ``at`` (the ingest edge calls it at most once a
    minute per key; an older time never overwrites a newer one)."""
    connection.execute(
        update(SourceApiKey)
        .where(
            SourceApiKey.id == key_id,
            (SourceApiKey.last_used_at.is_(None)) | (SourceApiKey.last_used_at < at),
        )
        .values(last_used_at=at)
    )


# --- what the ingest edge caches -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EdgeKey:
    key_id: int
    source_id: int
    prefix: str
    expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class EdgeSource:
    """A source as the ingest API needs it, with its current (latest) contract if it has one."""

    id: int
    key: str
    active: bool
    partner_agreement_ref: str | None
    partner_agreement_expires_at: dt.datetime | None
    contract_version: int | None
    contract_fields: list[dict[str, Any]] | None


def unrevoked_keys(connection: Connection) -> dict[str, EdgeKey]:
    """Every key not revoked, by hash (expiry is checked per request: time moves on)."""
    rows = connection.execute(
        select(
            SourceApiKey.key_hash,
            SourceApiKey.id,
            SourceApiKey.source_id,
            SourceApiKey.prefix,
            SourceApiKey.expires_at,
        ).where(SourceApiKey.revoked_at.is_(None))
    )
    return {r.key_hash: EdgeKey(r.id, r.source_id, r.prefix, r.expires_at) for r in rows}


def edge_sources(connection: Connection) -> dict[str, EdgeSource]:
    """Every source with its latest contract version, by source key."""
    newest = (
        select(SourceContract.source_id, func.max(SourceContract.version).label("version"))
        .group_by(SourceContract.source_id)
        .subquery()
    )
    latest = (
        select(SourceContract.source_id, SourceContract.version, SourceContract.fields)
        .join(
            newest,
            (newest.c.source_id == SourceContract.source_id)
            & (newest.c.version == SourceContract.version),
        )
        .subquery()
    )
    rows = connection.execute(
        select(
            Source.id,
            Source.key,
            Source.active,
            Source.partner_agreement_ref,
            Source.partner_agreement_expires_at,
            latest.c.version,
            latest.c.fields,
        ).outerjoin(latest, latest.c.source_id == Source.id)
    )
    return {r.key: EdgeSource(*r) for r in rows}
