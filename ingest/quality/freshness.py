"""Freshness: the age of a source's newest event against its freshness SLA."""

from __future__ import annotations

from ingest.quality.context import CheckContext
from models.quality.measures import SourceSpec
from models.quality.results import ResultRow
from models.quality.tables import CheckKey, DqState
from models.quality.windows import duration_text, window_at

KEY = CheckKey.FRESHNESS


def evaluate(ctx: CheckContext, source: SourceSpec) -> ResultRow:
    """Failing once the newest event is older than the SLA (or there is none at all).

    The result belongs to the current window and is updated every cycle of that window.
    """
    window = window_at(ctx.now)
    sla = source.freshness_sla_s
    newest = ctx.facts.newest.get(source.id)
    if newest is None:
        return ResultRow(
            KEY, source.id, window, DqState.FAILING, "no events received yet",
            value=None, threshold=float(sla), context={"sla_s": sla, "newest_event": None},
        )  # fmt: skip
    age = max((ctx.now - newest).total_seconds(), 0.0)
    stale = age > sla
    summary = f"newest event is {duration_text(age)} old (SLA {duration_text(sla)})"
    return ResultRow(
        KEY,
        source.id,
        window,
        DqState.FAILING if stale else DqState.OK,
        summary,
        value=age,
        threshold=float(sla),
        context={"sla_s": sla, "newest_event": newest.isoformat(), "age_s": age},
    )
