"""Reconciliation: rollups of closed windows, recomputed from the raw events, must equal the
stored rollups; any difference is critical.

Cost is bounded by a watermark per source and rollup table (``dq_watermarks``): each cycle
compares only the closed range past it (15-minute windows for ``rollup_1m``, whole hours and
days for the coarser tables), at most ``MAX_SPAN`` of it, never further back than the lookback
or the source's raw-data retention. Ranges found different are compared again every cycle
until they match (at most ``MAX_UNRESOLVED`` are kept), so the check keeps failing until the
rollups are repaired.
"""

from __future__ import annotations

import datetime as dt

from ingest.quality.context import CheckContext
from models.enums import Granularity
from models.quality.measures import SourceSpec
from models.quality.reconcile import Comparison, Watermark, compare_range, save_watermark
from models.quality.results import ResultRow
from models.quality.tables import CheckKey, DqState
from models.quality.windows import WINDOW, Window, floor_to

KEY = CheckKey.RECONCILIATION
STEP = {
    Granularity.MINUTE: WINDOW,
    Granularity.HOUR: dt.timedelta(hours=1),
    Granularity.DAY: dt.timedelta(days=1),
}
"""The closed ranges each rollup table is compared by."""
MAX_SPAN = {
    Granularity.MINUTE: dt.timedelta(hours=6),
    Granularity.HOUR: dt.timedelta(days=1),
    Granularity.DAY: dt.timedelta(days=2),
}
"""The most of each table one cycle compares (a watermark far behind catches up over cycles)."""
MAX_UNRESOLVED = 20


def _retained(ctx: CheckContext, source: SourceSpec, step: dt.timedelta) -> dt.datetime:
    """Raw events before this may be expired (retention drops whole days: a day's margin)."""
    return floor_to(ctx.now - dt.timedelta(days=source.retention_days - 1), step) + step


def _ranges(
    ctx: CheckContext, source: SourceSpec, granularity: Granularity, mark: Watermark | None
) -> tuple[list[Window], dt.datetime | None]:
    """The ranges to compare this cycle, and the new watermark (None: unchanged).

    Ranges that differed last time are compared again however old (while their events are
    retained); new ranges start at the watermark, or at the lookback if it is further behind.
    """
    step = STEP[granularity]
    retained = _retained(ctx, source, step)
    earliest = max(floor_to(ctx.now - ctx.thresholds.reconcile_lookback, step), retained)
    closed_end = floor_to(ctx.now - ctx.thresholds.settle_for(source), step)
    again = [w for w in (mark.unresolved if mark else ()) if w.start >= retained]
    start = max(mark.through, earliest) if mark else earliest
    end = min(closed_end, start + MAX_SPAN[granularity])
    if start >= end:
        return again, None
    return [*again, Window(start, end)], end


def _compare(ctx: CheckContext, source: SourceSpec) -> list[Comparison]:
    comparisons = []
    for granularity, step in STEP.items():
        mark = ctx.facts.watermarks.get((source.id, granularity))
        ranges, through = _ranges(ctx, source, granularity, mark)
        if not ranges:
            continue
        done = [compare_range(ctx.connection, source.id, granularity, w, step) for w in ranges]
        comparisons += done
        unresolved = sorted({w for c in done for w in c.differing_windows})[-MAX_UNRESOLVED:]
        if through is None and mark is not None:
            through = mark.through
        assert through is not None
        save_watermark(
            ctx.connection, source.id, granularity, Watermark(through, tuple(unresolved))
        )
    return comparisons


def evaluate(ctx: CheckContext, source: SourceSpec) -> ResultRow | None:
    """Compare what is due; None when nothing new closed and nothing is unresolved."""
    comparisons = _compare(ctx, source)
    if not comparisons:
        return None
    differing = sum(c.differing for c in comparisons)
    compared = sum(c.compared for c in comparisons)
    sample = [d for c in comparisons for d in c.sample][:10]
    if differing:
        first = sample[0]
        summary = (
            f"{differing:,} rollup row(s) differ from the raw events "
            f"(first: {first.table} at {first.bucket:%Y-%m-%d %H:%M} UTC, metric "
            f"{first.metric_id}, unit {first.org_unit_id})"
        )
    else:
        summary = f"{compared:,} rollup rows match the raw events"
    return ResultRow(
        KEY,
        source.id,
        Window(min(c.window.start for c in comparisons), max(c.window.end for c in comparisons)),
        DqState.FAILING if differing else DqState.OK,
        summary,
        value=float(differing),
        threshold=0.0,
        context={
            "compared": [
                {
                    "table": c.granularity.value,
                    "start": c.window.start.isoformat(),
                    "end": c.window.end.isoformat(),
                    "rows": c.compared,
                    "differing": c.differing,
                }
                for c in comparisons
            ],
            "differences": [d.as_json() for d in sample],
        },
    )
