"""Validity: the share of a window's records that were rejected or quarantined, by rule."""

from __future__ import annotations

from ingest.quality.context import CheckContext
from models.quality.measures import SourceSpec
from models.quality.results import ResultRow
from models.quality.tables import CheckKey, DqState

KEY = CheckKey.VALIDITY


def evaluate(ctx: CheckContext, source: SourceSpec) -> ResultRow:
    """Warning from ``validity_warning_share`` of the window's records, failing from
    ``validity_failing_share`` (stored + quarantined records make the whole)."""
    window = ctx.facts.windows[source.id]
    by_rule = dict(ctx.facts.rejected.get(source.id, {}))
    rejected = sum(by_rule.values())
    stored = ctx.facts.volume(source, window) or 0
    total = stored + rejected
    share = rejected / total if total else 0.0
    t = ctx.thresholds
    if rejected and share >= t.validity_failing_share:
        state = DqState.FAILING
    elif rejected and share >= t.validity_warning_share:
        state = DqState.WARNING
    else:
        state = DqState.OK
    summary = f"{share:.1%} of {total:,} records rejected"
    if by_rule:
        rules = sorted(by_rule.items(), key=lambda item: (-item[1], item[0]))
        summary += " (" + ", ".join(f"{rule} {n:,}" for rule, n in rules[:5]) + ")"
    return ResultRow(
        KEY,
        source.id,
        window,
        state,
        summary,
        value=share,
        threshold=t.validity_failing_share,
        context={"by_rule": by_rule, "rejected": rejected, "stored": stored},
    )
