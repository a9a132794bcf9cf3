"""Contract patterns, compiled with RE2: matching takes time linear in the text.

Python's ``re`` backtracks: a pattern like ``^(a|a)*@x$`` takes minutes on a 32-character
string, and a contract's pattern runs on every record in the web workers. RE2 never
backtracks; it refuses what it cannot run in linear time (backreferences, look-around), and a
contract naming such a pattern is refused when it is saved. Ingest validation, the contract
preview and the admin contract editor all use :func:`compile_pattern`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol, cast

import re2


class Pattern(Protocol):
    """The part of a compiled RE2 pattern Northstar uses."""

    def search(self, text: str) -> object | None: ...


class PatternError(ValueError):
    """RE2 cannot compile the pattern; the message says why."""


def _options() -> object:
    options = re2.Options()
    options.log_errors = False  # the error is raised; RE2 need not also print it to stderr
    return options


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Pattern:
    """``pattern`` compiled with RE2 (cached).

    Raises:
        PatternError: RE2 cannot compile it (syntax RE2 lacks, e.g. ``(?=…)`` or ``\\1``).
    """
    try:
        return cast(Pattern, re2.compile(pattern, _options()))
    except re2.error as exc:
        why = exc.args[0] if exc.args else str(exc)
        if isinstance(why, bytes):
            why = why.decode(errors="replace")
        raise PatternError(
            f"pattern {pattern!r} cannot be used: {why} (patterns run with RE2, which has no "
            "look-around or backreferences)"
        ) from exc
