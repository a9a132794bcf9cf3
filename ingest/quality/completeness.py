"""Completeness: a window's records against the expected volume; a drop over 5 % fails.

The expected volume is learned: the median of the same window in the previous weeks that had
records. Until enough weeks are known, the volume declared on the source
(``expected_volume_per_15m``) stands in for it: a declared figure is one number for every
window, while the learned one follows the source's daily and weekly rhythm.

A drop fails when it is over ``completeness_max_drop`` and, against a learned volume, also
beyond chance: below the median by more than ``noise_z`` robust standard deviations of the
previous weeks (MAD, never below Poisson noise; none when every week had the same count, as
a deterministic batch feed does). A window expecting fewer than ``1 / completeness_max_drop``
records (20) is not judged: there, one record is more than 5 %, and freshness and the volume
anomaly check watch such a source.
"""

from __future__ import annotations

from ingest.quality.common import count_text, skipped
from ingest.quality.context import CheckContext
from models.quality.measures import SourceSpec
from models.quality.results import ResultRow
from models.quality.stats import baseline
from models.quality.tables import CheckKey, DqState

KEY = CheckKey.COMPLETENESS


def evaluate(ctx: CheckContext, source: SourceSpec) -> ResultRow:
    """Failing when the window holds more than ``completeness_max_drop`` fewer records than
    expected (exactly the limit passes)."""
    window = ctx.facts.windows[source.id]
    received = ctx.facts.volume(source, window)
    if received is None:
        return skipped(KEY, source, window, "the source has no event-count metric")
    history = ctx.facts.history(source, window)
    limit = ctx.thresholds.completeness_max_drop
    learned = baseline(history, ctx.thresholds.min_history_weeks)
    if learned is not None:
        expected, basis = learned.median, "learned"
        noise_floor = expected - ctx.thresholds.completeness_noise_z * learned.noise
    elif source.expected_volume_per_15m:
        expected, basis = float(source.expected_volume_per_15m), "declared"
        noise_floor = expected
    else:
        return skipped(KEY, source, window, "not enough weeks of history to learn the volume")
    if expected * limit < 1:
        why = f"{count_text(expected)} expected records are too few to judge a {limit:.0%} drop"
        return skipped(KEY, source, window, why)
    drop = (expected - received) / expected
    failing = drop > limit and received < noise_floor
    summary = f"{count_text(received)} of {count_text(expected)} expected records"
    if failing:
        summary += f" in {window.label()}: {drop:.1%} short (at most {limit:.0%} allowed)"
    return ResultRow(
        KEY,
        source.id,
        window,
        DqState.FAILING if failing else DqState.OK,
        summary,
        value=float(received),
        threshold=min(expected * (1 - limit), noise_floor),
        context={
            "received": received,
            "expected": expected,
            "basis": basis,
            "drop": drop,
            "max_drop": limit,
            "noise_floor": noise_floor,
            "history": history,
        },
    )
