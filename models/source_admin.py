"""Admin console writes on sources: create one; edit its SLA, expected volume, retention and
steward; its sensitivity, active flag and partner agreement; create and revoke its API keys.

Every function takes the acting principal, checks ``source:manage`` and that the source's
owner unit lies in the principal's scope (a source out of scope reads as missing), locks the
source row, audits what it changed (``models.audit.record_change``: actor, before, after) and
leaves committing to the caller: one transaction per action, so a refused action changes
nothing. The caller tells the ingest edge after the commit
(``ingest.sources_cache.bump_catalog_version``). Contract versions are in
:mod:`models.source_contract_edit`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.api_keys import create_key, revoke
from models.audit import Actor, record_change
from models.catalog import audit_update, metric_key
from models.enums import Classification, RefreshMode
from models.permissions import AccessDenied, Principal
from models.queries.admin.sources import (
    MANAGE,
    NO_SOURCE,
    admin_source,
    may_steward,
    unit_path_in_scope,
)
from models.sources import Metric, Source, SourceApiKey

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
"""Source keys: they name the API path and the metrics formulas read (``orders.amount``)."""
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_SLA_S = 30 * 86_400
MAX_VOLUME = 1_000_000_000
MAX_RETENTION_DAYS = 3650
MAX_LABEL = 200
MAX_KEY_DAYS = 3650
NOT_A_STEWARD = (
    "the steward must be an active user with incident:manage or quarantine:manage whose "
    "scope includes the source's owner unit"
)
NO_KEY = "no such API key of this source"
MAX_AGREEMENT_REF = 200


@dataclass(frozen=True, slots=True)
class SourceAccess:
    """Who may see a source's data and whether it may deliver any: its sensitivity, its
    active flag and the partner agreement it is delivered under (reference and expiry)."""

    sensitivity: Classification
    active: bool
    partner_agreement_ref: str | None
    partner_agreement_expires_at: dt.datetime | None

    def __post_init__(self) -> None:
        ref = self.partner_agreement_ref
        if ref is not None and (not ref.strip() or len(ref) > MAX_AGREEMENT_REF):
            raise ValueError(
                f"the agreement reference must be 1 to {MAX_AGREEMENT_REF} characters, "
                "or empty for none"
            )
        if self.partner_agreement_expires_at is not None and ref is None:
            raise ValueError("an agreement expiry needs the agreement's reference")

    def values(self) -> dict[str, Any]:
        return {
            "sensitivity": self.sensitivity,
            "active": self.active,
            "partner_agreement_ref": self.partner_agreement_ref,
            "partner_agreement_expires_at": self.partner_agreement_expires_at,
        }


def actor_of(principal: Principal) -> Actor:
    """The audit actor of a signed-in principal."""
    return Actor(principal.name or f"user {principal.user_id}", principal.user_id)


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """What an admin edits on an existing source (and sets when creating one)."""

    freshness_sla_s: int
    expected_volume_per_15m: int | None
    retention_days: int
    steward_id: int | None

    def __post_init__(self) -> None:
        if not 0 < self.freshness_sla_s <= MAX_SLA_S:
            raise ValueError(f"the freshness SLA must be 1 to {MAX_SLA_S:,} seconds (30 days)")
        volume = self.expected_volume_per_15m
        if volume is not None and not 0 < volume <= MAX_VOLUME:
            raise ValueError(
                f"the expected volume must be 1 to {MAX_VOLUME:,} records per 15 minutes, "
                "or empty to learn it from previous weeks"
            )
        if not 0 < self.retention_days <= MAX_RETENTION_DAYS:
            raise ValueError(f"the retention must be 1 to {MAX_RETENTION_DAYS:,} days")

    def values(self) -> dict[str, Any]:
        return {
            "freshness_sla_s": self.freshness_sla_s,
            "expected_volume_per_15m": self.expected_volume_per_15m,
            "retention_days": self.retention_days,
            "steward_id": self.steward_id,
        }


@dataclass(frozen=True, slots=True)
class NewSource:
    """A source to create (it takes records once it has a contract and an API key)."""

    key: str
    name: str
    owner_unit_id: int
    refresh_mode: RefreshMode
    sensitivity: Classification
    settings: SourceSettings
    description: str = ""

    def __post_init__(self) -> None:
        if not KEY_PATTERN.match(self.key):
            raise ValueError(
                "the key must be 2 to 64 characters: lower-case letters, digits and _, "
                "starting with a letter"
            )
        if not self.name.strip() or len(self.name) > MAX_NAME:
            raise ValueError(f"the name must be 1 to {MAX_NAME} characters")
        if len(self.description) > MAX_DESCRIPTION:
            raise ValueError(f"the description may have at most {MAX_DESCRIPTION} characters")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just created: its plaintext is shown once and never stored."""

    plaintext: str
    prefix: str


def locked_source(session: Session, principal: Principal, key: str) -> Source:
    """The source the principal manages with this key, locked for the change.

    Raises:
        AccessDenied: missing ``source:manage``, or no such source in scope.
    """
    found = admin_source(session.connection(), principal, key)
    source = session.get(Source, found.id, with_for_update=True)
    if source is None:  # deleted between the two reads
        raise AccessDenied(NO_SOURCE)
    return source


def _check_steward(session: Session, steward_id: int | None, unit_path: str) -> None:
    if steward_id is not None and not may_steward(session.connection(), steward_id, unit_path):
        raise ValueError(NOT_A_STEWARD)


def create_source(session: Session, principal: Principal, new: NewSource) -> Source:
    """Create a source owned by a unit in scope, with its event-count metric (audited).

    Raises:
        AccessDenied: missing ``source:manage``, or the owner unit is out of scope.
        ValueError: the key is taken or the steward may not steward it.
    """
    principal.require(MANAGE)
    actor = actor_of(principal)
    unit_path = unit_path_in_scope(session.connection(), principal, new.owner_unit_id)
    if unit_path is None:
        raise AccessDenied("no such org unit in your scope")
    if session.scalar(select(Source.id).where(Source.key == new.key)) is not None:
        raise ValueError(f"a source with the key {new.key!r} exists already")
    _check_steward(session, new.settings.steward_id, unit_path)
    values: dict[str, Any] = {
        "name": new.name.strip(),
        "description": new.description.strip(),
        "owner_unit_id": new.owner_unit_id,
        "refresh_mode": new.refresh_mode,
        "sensitivity": new.sensitivity,
        **new.settings.values(),
    }
    source = Source(key=new.key, **values)
    session.add(source)
    session.flush()
    record_change(session, actor, "source.create", "source", new.key, after=values)
    count = Metric(
        key=metric_key(new.key, None),
        source_id=source.id,
        measure=None,
        name=f"{source.name} (count)",
        unit="events",
    )
    session.add(count)
    session.flush()
    after = {"key": count.key, "measure": None, "name": count.name, "unit": count.unit}
    record_change(session, actor, "metric.create", "metric", count.key, after=after)
    return source


def update_settings(
    session: Session, principal: Principal, key: str, settings: SourceSettings
) -> dict[str, Any]:
    """Set the SLA, expected volume, retention and steward; returns what changed (audited
    as one ``source.update`` with before and after; nothing when nothing changed).

    Raises:
        AccessDenied: missing ``source:manage``, or no such source in scope.
        ValueError: the steward may not steward this source.
    """
    source = locked_source(session, principal, key)
    if settings.steward_id != source.steward_id:
        path = unit_path_in_scope(session.connection(), principal, source.owner_unit_id)
        _check_steward(session, settings.steward_id, path or "")
    wanted = settings.values()
    changed = {name: value for name, value in wanted.items() if getattr(source, name) != value}
    audit_update(session, actor_of(principal), "source", key, source, wanted)
    session.flush()
    return changed


def update_access(
    session: Session, principal: Principal, key: str, access: SourceAccess
) -> dict[str, Any]:
    """Set the sensitivity, active flag and partner agreement; returns what changed (audited
    as one ``source.update`` with before and after; nothing when nothing changed). From the
    agreement's expiry on, the ingest API refuses the source's records and it is not pulled.

    Raises:
        AccessDenied: missing ``source:manage``, or no such source in scope.
    """
    source = locked_source(session, principal, key)
    wanted = access.values()
    changed = {name: value for name, value in wanted.items() if getattr(source, name) != value}
    audit_update(session, actor_of(principal), "source", key, source, wanted)
    session.flush()
    return changed


def create_source_key(
    session: Session,
    principal: Principal,
    key: str,
    label: str,
    expires_days: int | None,
    now: dt.datetime,
) -> NewKey:
    """A new API key of the source (audited: prefix, label, expiry; never the key).

    Raises:
        AccessDenied: missing ``source:manage``, or no such source in scope.
        ValueError: the label or expiry is out of bounds.
    """
    cleaned = label.strip()
    if len(cleaned) > MAX_LABEL:
        raise ValueError(f"a label may have at most {MAX_LABEL} characters")
    if expires_days is not None and not 0 < expires_days <= MAX_KEY_DAYS:
        raise ValueError(f"a key expires after 1 to {MAX_KEY_DAYS:,} days, or never")
    source = locked_source(session, principal, key)
    expires_at = None if expires_days is None else now + dt.timedelta(days=expires_days)
    plaintext = create_key(session, source, actor_of(principal), cleaned, expires_at)
    return NewKey(plaintext, plaintext.split("_")[1])


def revoke_source_key(session: Session, principal: Principal, key: str, key_id: int) -> str:
    """Revoke one key of the source (audited); returns its prefix.

    Raises:
        AccessDenied: missing ``source:manage``, or no such source in scope.
        LookupError: the source has no key with this id.
        ValueError: the key is revoked already.
    """
    source = locked_source(session, principal, key)
    found = session.scalar(
        select(SourceApiKey)
        .where(SourceApiKey.id == key_id, SourceApiKey.source_id == source.id)
        .with_for_update()
    )
    if found is None:
        raise LookupError(NO_KEY)
    if found.revoked_at is not None:
        raise ValueError(f"the key ns_{found.prefix}_… is revoked already")
    revoke(session, found, actor_of(principal), source.key)
    return found.prefix
