"""Volume anomaly: a robust z-score of the window's volume against the same window in the
previous weeks (median and MAD), in both directions.

Comparing with the same window of the week means a weekly peak is expected when the previous
weeks had it too; only what departs from them is flagged.
"""

from __future__ import annotations

from ingest.quality.common import count_text, skipped
from ingest.quality.context import CheckContext
from models.quality.measures import SourceSpec
from models.quality.results import ResultRow
from models.quality.stats import baseline
from models.quality.tables import CheckKey, DqState

KEY = CheckKey.VOLUME_ANOMALY


def evaluate(ctx: CheckContext, source: SourceSpec) -> ResultRow:
    """Warning from ``anomaly_warning_z``, failing from ``anomaly_failing_z`` (absolute z)."""
    window = ctx.facts.windows[source.id]
    received = ctx.facts.volume(source, window)
    if received is None:
        return skipped(KEY, source, window, "the source has no event-count metric")
    history = ctx.facts.history(source, window)
    base = baseline(history, ctx.thresholds.min_history_weeks)
    if base is None:
        return skipped(KEY, source, window, "not enough weeks of history for a baseline")
    z = base.z(received)
    t = ctx.thresholds
    if abs(z) >= t.anomaly_failing_z:
        state = DqState.FAILING
    elif abs(z) >= t.anomaly_warning_z:
        state = DqState.WARNING
    else:
        state = DqState.OK
    usual = f"usually {count_text(base.median)}"
    if state is DqState.OK:
        summary = f"{count_text(received)} records ({usual}, z {z:+.1f})"
    else:
        what = "spike" if z > 0 else "drop"
        summary = f"volume {what}: {count_text(received)} records in {window.label()} ({usual}, robust z {z:+.1f})"  # noqa: E501
    low, high = base.band(t.anomaly_warning_z)
    return ResultRow(
        KEY,
        source.id,
        window,
        state,
        summary,
        value=z,
        threshold=t.anomaly_failing_z,
        context={
            "received": received,
            "median": base.median,
            "mad": base.mad,
            "sigma": base.sigma,
            "history": history,
            "band": [low, high],
        },
    )
