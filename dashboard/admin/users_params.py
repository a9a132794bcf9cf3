"""Checking what the browser sends to the admin console's callbacks: every value is untrusted.

Each parser returns a clean value or raises ``ValueError`` with a message fit for users (the
guard shows it as "Invalid input: …"), never echoing the value. Whether the admin may act on
what a valid value names is decided by ``models.admin``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TypeVar

from dashboard.common.params import clicked, optional_id, record_id
from models.permissions import Permission

__all__ = [
    "clicked",
    "date",
    "id_list",
    "one_of",
    "optional_id",
    "password",
    "permissions",
    "record_id",
    "text",
]

MAX_CHOICES = 500
MAX_TEXT = 1000
MAX_PASSWORD = 1024

E = TypeVar("E", bound=StrEnum)


def id_list(value: object, what: str, limit: int = MAX_CHOICES) -> list[int]:
    """A multi-select's ids (integers or digit strings), without repeats; None: none."""
    if value is None or value == "":
        return []
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError(f"the {what} choice is malformed")
    found: list[int] = []
    for item in value:
        number = record_id(item, f"each {what}")
        if number not in found:
            found.append(number)
    return found


def text(value: object, what: str, limit: int = MAX_TEXT) -> str:
    """Text typed by the admin ("" for none), at most ``limit`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"the {what} must be text")
    if len(value) > limit:
        raise ValueError(f"the {what} may have at most {limit} characters")
    if any((ord(c) < 0x20 and c not in "\n\r\t") or ord(c) == 0x7F for c in value):
        raise ValueError(f"the {what} contains control characters")
    return value


def password(value: object) -> str:
    """A password as typed (not stripped: spaces are part of it)."""
    return text(value, "password", MAX_PASSWORD)


def one_of(value: object, allowed: type[E], what: str) -> E:
    if not isinstance(value, str) or value not in allowed.__members__.values():
        raise ValueError(f"choose a {what}")
    return allowed(value)


def permissions(value: object) -> list[Permission]:
    """A checklist of permissions; unknown values are refused."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > len(Permission):
        raise ValueError("the permissions choice is malformed")
    known = {p.value for p in Permission}
    if any(not isinstance(p, str) or p not in known for p in value):
        raise ValueError("unknown permission")
    return sorted({Permission(p) for p in value})


def date(value: object, what: str) -> dt.date:
    """A date as an ``<input type=date>`` sends it: ``YYYY-MM-DD``."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"enter the {what} as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"enter the {what} as YYYY-MM-DD") from None
