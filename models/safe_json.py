"""What PostgreSQL text and jsonb (and the msgpack of the ingest streams) can hold.

PostgreSQL cannot store U+0000 in ``text`` or in a ``jsonb`` string, nor a lone UTF-16
surrogate; msgpack cannot encode an integer outside [-2**63, 2**64 - 1]; very deep nesting
exhausts recursion in decoders and encoders. :func:`unstorable` finds such a value without
recursing, and :func:`escaped_json` / :func:`escaped_text` turn anything into text that every
layer can hold (``\\u0000`` instead of the character itself), so that what cannot be stored
as parsed data can always be kept as text.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

MAX_DEPTH = 32
"""Nesting levels a record may have (objects and arrays inside the record object)."""
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_json_encode = msgspec.json.Encoder().encode


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains U+0000 (NUL), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate, which is not valid Unicode"
    return None


def _scalar_problem(value: object) -> str | None:
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return "holds an integer outside the 64-bit range"
    if isinstance(value, float) and not math.isfinite(value):
        return "holds a number that is not finite"
    return None


def _plainly_storable(text: str) -> bool:
    return "\x00" not in text and (text.isascii() or _text_problem(text) is None)


def _flat_and_clean(record: dict[Any, Any]) -> bool:
    """The common case, cheaply: an object of clean scalars (about 1 µs for 8 fields)."""
    for key, item in record.items():
        if type(key) is not str or not _plainly_storable(key):
            return False
        kind = type(item)
        if kind is str:
            if not _plainly_storable(item):
                return False
        elif kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif item is not None and kind is not bool:
            return False  # nested, or another type: the full walk decides
    return True


def unstorable(value: object, max_depth: int = MAX_DEPTH) -> tuple[str | None, str] | None:
    """Where and why ``value`` (parsed JSON) cannot be stored as is, or None.

    Returns:
        (the top-level key it was found under, or None for the value itself or a key, why).
    """
    if type(value) is dict and _flat_and_clean(value):
        return None
    stack: list[tuple[object, int, str | None]] = [(value, 0, None)]
    while stack:
        item, depth, top = stack.pop()
        if isinstance(item, dict | list) and depth > max_depth:
            return top, f"is nested more than {max_depth} levels deep"
        if isinstance(item, dict):
            for key, child in item.items():
                problem = _scalar_problem(key) if isinstance(key, str) else "has a key not text"
                if problem is not None:
                    return top, f"has a field name that {problem.removeprefix('contains ')}"
                stack.append((child, depth + 1, key if depth == 0 else top))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, top) for child in item)
        else:
            problem = _scalar_problem(item)
            if problem is not None:
                return top, problem
    return None


def escaped_text(text: str) -> str:
    """``text`` with NUL written as ``\\u0000`` and lone surrogates as ``\\udXXX``."""
    text = text.replace("\x00", "\\u0000")
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def escaped_json(value: Any) -> str:
    """``value`` as JSON text that PostgreSQL ``text`` can hold (NUL and surrogates escaped)."""
    try:
        return escaped_text(_json_encode(value).decode("utf-8", errors="backslashreplace"))
    except (TypeError, ValueError, OverflowError, RecursionError, msgspec.EncodeError):
        pass
    try:
        return escaped_text(repr(value))
    except RecursionError:
        return f"<a {type(value).__name__} nested too deeply to be written out>"


def storable_payload(payload: Any, raw: str | None) -> tuple[Any, str | None]:
    """A quarantined record's (payload, raw) as PostgreSQL can hold them: a payload that
    cannot be stored as jsonb is kept as escaped JSON text in ``raw`` instead."""
    if raw is not None:
        raw = escaped_text(raw)
    if payload is not None and unstorable(payload) is not None:
        return None, escaped_json(payload) if raw is None else raw
    return payload, raw
