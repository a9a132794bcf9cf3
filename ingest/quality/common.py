"""What the check modules share: their signature and the result of a check that cannot judge."""

from __future__ import annotations

from collections.abc import Callable

from ingest.quality.context import CheckContext
from models.quality.measures import SourceSpec
from models.quality.results import ResultRow
from models.quality.tables import CheckKey, DqState
from models.quality.windows import Window

Evaluate = Callable[[CheckContext, SourceSpec], ResultRow | None]
"""A check: the result for one source at the context's time (None: nothing to judge)."""


def skipped(check: CheckKey, source: SourceSpec, window: Window, why: str) -> ResultRow:
    """An ok result saying why the check could not judge (``context.skipped``)."""
    return ResultRow(
        check=check,
        source_id=source.id,
        window=window,
        state=DqState.OK,
        summary=f"not judged: {why}",
        context={"skipped": why},
    )


def count_text(n: float) -> str:
    """A record count, without a pointless ``.0``."""
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"
