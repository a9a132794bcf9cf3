"""Checking what the browser sends to the admin source pages' callbacks (all untrusted).

Each parser returns a clean value or raises ``ValueError`` with a message fit for users that
never echoes the value. Whether the admin may change what a valid value names (the source's
scope, the key's source, the steward) is decided by ``models.source_admin``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from enum import StrEnum
from typing import TypeVar

from dashboard.common import params
from models.enums import Classification, PullKind, RefreshMode
from models.source_admin import (
    MAX_AGREEMENT_REF,
    MAX_DESCRIPTION,
    MAX_KEY_DAYS,
    MAX_LABEL,
    MAX_NAME,
    NewSource,
    SourceAccess,
    SourceSettings,
)
from models.source_contract_edit import MAX_NOTE, MAX_TEXT
from models.source_pull_admin import SourcePull

E = TypeVar("E", bound=StrEnum)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_NUMBER = 2**31 - 1


def whole_number(value: object, what: str, *, required: bool = True) -> int | None:
    """A number field's value as an integer (``12`` or ``12.0``); None when empty and
    allowed."""
    if value is None or value == "":
        if required:
            raise ValueError(f"{what} is required")
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdecimal() and len(text) <= 10:
            value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NUMBER:
        raise ValueError(f"{what} must be a whole number")
    return value


def text(value: object, what: str, limit: int, *, one_line: bool = False) -> str:
    """A typed text ("" for none), at most ``limit`` characters, without NUL (PostgreSQL
    cannot store it) and, for ``one_line``, without any control character."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text")
    if len(value) > limit:
        raise ValueError(f"{what} may have at most {limit:,} characters")
    if "\x00" in value or (one_line and not value.isprintable()):
        raise ValueError(f"{what} must not contain control characters")
    return value


def choice(value: object, allowed: type[E], what: str) -> E:
    if not isinstance(value, str) or value not in allowed.__members__.values():
        raise ValueError(f"choose the {what}")
    return allowed(value)


def source_key(page_params: object) -> str:
    """The source key the page was opened for (from its path, kept in a store)."""
    if not isinstance(page_params, dict):
        raise ValueError("the page parameters are malformed")
    return params.key(page_params.get("key"), "source")


def settings(sla: object, volume: object, retention: object, steward: object) -> SourceSettings:
    """The settings form (or the same part of the new-source form)."""
    return SourceSettings(
        freshness_sla_s=whole_number(sla, "the freshness SLA") or 0,
        expected_volume_per_15m=whole_number(volume, "the expected volume", required=False),
        retention_days=whole_number(retention, "the retention") or 0,
        steward_id=params.optional_id(steward, "a steward"),
    )


def new_source(
    key: object,
    name: object,
    owner: object,
    refresh: object,
    sensitivity: object,
    description: object,
    parts: SourceSettings,
) -> NewSource:
    """The new-source form."""
    owner_id = params.optional_id(owner, "the owner unit")
    if owner_id is None:
        raise ValueError("choose the owner unit")
    return NewSource(
        key=text(key, "the key", 64, one_line=True).strip(),
        name=text(name, "the name", MAX_NAME, one_line=True),
        owner_unit_id=owner_id,
        refresh_mode=choice(refresh, RefreshMode, "refresh mode"),
        sensitivity=choice(sensitivity, Classification, "sensitivity"),
        settings=parts,
        description=text(description, "the description", MAX_DESCRIPTION),
    )


def key_label(value: object) -> str:
    return text(value, "the label", MAX_LABEL, one_line=True)


def expiry_days(value: object) -> int | None:
    days = whole_number(value, "the expiry", required=False)
    if days is not None and not 0 < days <= MAX_KEY_DAYS:
        raise ValueError(f"a key expires after 1 to {MAX_KEY_DAYS:,} days, or never")
    return days


def contract_text(value: object) -> str:
    return text(value, "the contract", MAX_TEXT)


def note(value: object) -> str:
    return text(value, "the note", MAX_NOTE)


def digest(contract: str) -> str:
    """What a preview remembers of the text it checked (not the text itself)."""
    return hashlib.sha256(contract.encode()).hexdigest()


def base_version(value: object) -> int | None:
    """The contract version the editor started from (None: the source had none)."""
    if value is None:
        return None
    return params.record_id(value, "the contract version")


def agreement_expiry(value: object) -> dt.datetime | None:
    """A date ``2028-12-31`` (from the date field) as the end of that day in UTC, as the
    catalogue file reads it; None when empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DAY.match(value.strip()):
        raise ValueError("the agreement expiry must be a date such as 2028-12-31, or empty")
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("the agreement expiry is not a date of the calendar") from None
    return dt.datetime.combine(day, dt.time(23, 59, 59), dt.UTC)


def access(sensitivity: object, active: object, ref: object, expires: object) -> SourceAccess:
    """The access form: sensitivity, active flag, partner agreement reference and expiry."""
    if not isinstance(active, bool):
        raise ValueError("the active switch is malformed")
    reference = text(ref, "the agreement reference", MAX_AGREEMENT_REF, one_line=True).strip()
    return SourceAccess(
        sensitivity=choice(sensitivity, Classification, "sensitivity"),
        active=active,
        partner_agreement_ref=reference or None,
        partner_agreement_expires_at=agreement_expiry(expires),
    )


NO_PULL = "none"
"""The pull kind drop-down's value for a source that is not pulled."""
MAX_TARGET = 2000
MAX_QUERY = 20_000


def pull(kind: object, target: object, query: object, interval: object) -> SourcePull:
    """The pull form: kind (or ``none``), target, query (sql only) and interval (empty: the
    refresh mode's default)."""
    if kind == NO_PULL:
        return SourcePull(None, None, None, None)
    chosen = choice(kind, PullKind, "pull kind")
    url = text(target, "the pull target", MAX_TARGET, one_line=True).strip()
    sql = text(query, "the pull query", MAX_QUERY).strip()
    return SourcePull(
        kind=chosen,
        target=url or None,
        query=sql or None,
        interval_s=whole_number(interval, "the pull interval", required=False),
    )
