"""Schema drift: the drift events the ingest recorded for the source's window.

``ingest.drift`` counts, per window of receipt, fields outside the contract and fields of the
wrong type; a field over ``NORTHSTAR_DRIFT_THRESHOLD`` of the records becomes a drift event.
"""

from __future__ import annotations

from ingest.quality.context import CheckContext
from models.quality.measures import SourceSpec
from models.quality.results import ResultRow
from models.quality.tables import CheckKey, DqState

KEY = CheckKey.SCHEMA_DRIFT
_WORDS = {"unknown_field": "not in the contract", "type_mismatch": "of the wrong type"}


def evaluate(ctx: CheckContext, source: SourceSpec) -> ResultRow:
    """Failing while the window has drift events."""
    window = ctx.facts.windows[source.id]
    events = ctx.facts.drift.get(source.id, ())
    if events:
        parts = [
            f"'{e.field}' {_WORDS.get(e.kind, e.kind)} in {e.share:.1%} (contract v{e.contract_version})"  # noqa: E501
            for e in events[:3]
        ]
        summary = f"{len(events)} drifting field(s): " + "; ".join(parts)
    else:
        summary = "records match their contract"
    return ResultRow(
        KEY,
        source.id,
        window,
        DqState.FAILING if events else DqState.OK,
        summary,
        value=float(len(events)),
        threshold=0.0,
        context={
            "events": [
                {
                    "field": e.field,
                    "kind": e.kind,
                    "contract_version": e.contract_version,
                    "window_start": e.window_start.isoformat(),
                    "window_end": e.window_end.isoformat(),
                    "records": e.records,
                    "occurrences": e.occurrences,
                    "share": e.share,
                }
                for e in events
            ]
        },
    )
