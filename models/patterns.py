"""Contract patterns, compiled with RE2: matching takes time linear in the text.

Python's ``re`` backtracks: a pattern like ``^(a|a)*@x$`` takes minutes on a 32-character
string, and a contract's pattern runs on every record in the web workers. RE2 never
backtracks; it refuses what it cannot run in linear time (backreferences, look-around), and a
contract naming such a pattern is refused when it is saved. Ingest validation, the contract
preview and the admin contract editor all use :func:`compile_pattern`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import re2


class Pattern(Protocol):
    """A compiled contract pattern: whether it is found in a text."""

    def found_in(self, text: str) -> bool: ...


_NO_MATCH = (-1, -1)


class _Re2Pattern:
    """RE2's matcher called directly: the module's ``search`` decodes every match offset back
    to str positions in Python (11 µs a call, measured); a contract needs only yes or no."""

    __slots__ = ("_match", "_unanchored")

    def __init__(self, compiled: Any) -> None:
        self._match = compiled._regexp.Match
        self._unanchored = re2._Anchor.UNANCHORED

    def found_in(self, text: str) -> bool:
        data = text.encode("utf-8", "surrogatepass")
        return bool(self._match(self._unanchored, data, 0, len(data))[0] != _NO_MATCH)


class _SearchPattern:
    """The module's public ``search``, should its internals ever change."""

    __slots__ = ("_search",)

    def __init__(self, compiled: Any) -> None:
        self._search = compiled.search

    def found_in(self, text: str) -> bool:
        return self._search(text) is not None


class PatternError(ValueError):
    """RE2 cannot compile the pattern; the message says why."""


def _options() -> object:
    options = re2.Options()
    options.log_errors = False  # the error is raised; RE2 need not also print it to stderr
    options.never_capture = True  # groups are not needed: RE2 may use its fastest engine
    return options


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Pattern:
    """``pattern`` compiled with RE2 (cached).

    Raises:
        PatternError: RE2 cannot compile it (syntax RE2 lacks, e.g. ``(?=…)`` or ``\\1``).
    """
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as exc:
        why = exc.args[0] if exc.args else str(exc)
        if isinstance(why, bytes):
            why = why.decode(errors="replace")
        raise PatternError(
            f"pattern {pattern!r} cannot be used: {why} (patterns run with RE2, which has no "
            "look-around or backreferences)"
        ) from exc
    if hasattr(compiled, "_regexp") and hasattr(re2, "_Anchor"):
        return _Re2Pattern(compiled)
    return _SearchPattern(compiled)
