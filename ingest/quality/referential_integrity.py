"""Referential integrity: records quarantined because a reference does not exist.

The ingest pipeline quarantines a record naming an unknown org unit (rule ``unknown_org_unit``)
instead of filing it elsewhere; every rule starting ``unknown_`` counts here.
"""

from __future__ import annotations

import math

from ingest.quality.context import CheckContext
from models.quality.measures import UNKNOWN_REFERENCE_PREFIX, SourceSpec
from models.quality.results import ResultRow
from models.quality.tables import CheckKey, DqState

KEY = CheckKey.REFERENTIAL_INTEGRITY


def evaluate(ctx: CheckContext, source: SourceSpec) -> ResultRow:
    """Warning for any unknown reference in the window, failing from
    ``integrity_failing_share`` of its records. ``value`` is the count, ``threshold`` the
    count that fails."""
    window = ctx.facts.windows[source.id]
    rejected = ctx.facts.rejected.get(source.id, {})
    by_rule = {r: n for r, n in rejected.items() if r.startswith(UNKNOWN_REFERENCE_PREFIX)}
    count = sum(by_rule.values())
    total = (ctx.facts.volume(source, window) or 0) + sum(rejected.values())
    share = count / total if total else 0.0
    limit = ctx.thresholds.integrity_failing_share
    if not count:
        state = DqState.OK
    elif share >= limit:
        state = DqState.FAILING
    else:
        state = DqState.WARNING
    references = dict(ctx.facts.unknown_references.get(source.id, {}))
    summary = f"{count:,} record(s) with unknown references quarantined ({share:.1%})"
    if references:
        summary += ": " + ", ".join(
            f"{reason} (x{n})" for reason, n in list(references.items())[:3]
        )
    return ResultRow(
        KEY,
        source.id,
        window,
        state,
        summary,
        value=float(count),
        threshold=float(max(math.ceil(limit * total), 1)) if total else None,
        context={
            "by_rule": by_rule,
            "top_references": references,
            "records": total,
            "share": share,
        },
    )
