"""Checking what the browser sends to the steward console's callbacks: every value is untrusted.

Each parser returns a clean value or raises ``ValueError`` with a message fit for users (the
guard shows it as "Invalid input: …"); they never echo the value they were sent. Whether the
user may see or change what a valid value names is decided by the queries and actions.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

MAX_ID = 2**31 - 1
MAX_KEY = 100
MAX_NOTE_INPUT = 4000
"""The longest note accepted (``models.quality.actions.MAX_NOTE``)."""

E = TypeVar("E", bound=StrEnum)


def record_id(value: object, what: str) -> int:
    """A positive database id, given as an integer or a string of ASCII digits (a URL
    segment)."""
    if isinstance(value, str):
        digits = value.strip()
        if digits.isascii() and digits.isdecimal() and len(digits) <= 10:
            value = int(digits)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValueError(f"{what} must be given by its number")
    return value


def optional_id(value: object, what: str) -> int | None:
    """:func:`record_id`, or None for no choice (None or "")."""
    if value is None or value == "":
        return None
    return record_id(value, what)


def choices(value: object, allowed: type[E], what: str) -> list[E]:
    """A multi-select's values, each one of ``allowed``; None or empty: no restriction."""
    if value is None or value == "":
        return []
    items: Iterable[object] = [value] if isinstance(value, str) else _list(value, what)
    chosen: list[E] = []
    for item in items:
        if not isinstance(item, str) or item not in allowed.__members__.values():
            raise ValueError(f"unknown {what}")
        choice = allowed(item)
        if choice not in chosen:
            chosen.append(choice)
    return chosen


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list) or len(value) > 20:
        raise ValueError(f"the {what} choice is malformed")
    return value


def note(value: object) -> str:
    """A note typed by the user ("" for none); its length is checked again by the action."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("a note must be text")
    if len(value) > MAX_NOTE_INPUT:
        raise ValueError(f"a note may have at most {MAX_NOTE_INPUT} characters")
    return value


def clicked(n_clicks: object) -> bool:
    """True when a button's click count says it was clicked (a positive integer)."""
    return isinstance(n_clicks, int) and not isinstance(n_clicks, bool) and n_clicks > 0


def key(value: object, what: str) -> str:
    """A catalogue key (source, KPI): 1 to 100 printable characters."""
    if not isinstance(value, str):
        raise ValueError(f"a {what} must be given by its key")
    cleaned = value.strip()
    if not cleaned or len(cleaned) > MAX_KEY or not cleaned.isprintable():
        raise ValueError(f"a {what} key must be 1 to {MAX_KEY} printable characters")
    return cleaned


def option(value: object, allowed: Iterable[str], default: str) -> str:
    """A query-string value, only if it is one of the offered options (else ``default``)."""
    offered = list(allowed)
    return value if isinstance(value, str) and value in offered else default
