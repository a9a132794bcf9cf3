"""A KPI's definition changes within the period shown: read through the answer cache, said in
the KPI page's header and marked on its trend.

**Cached for the minute** like the KPI definitions themselves: a definition saved on the admin
console shows on the KPI page within a minute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dash import html

from dashboard.alerts.figures import vertical
from dashboard.cache.answers import CallCache, Deferred, Question
from dashboard.cache.lazy import Connect
from dashboard.cache.reads import minute_of
from dashboard.common.figure_spec import Figure
from models.queries.common import Period
from models.queries.executive.definitions import KpiDefinition
from models.queries.executive.kpi_versions import DefinitionChange, definition_changes

NOTE_ID = "kpi-definition-changes"
COLOR = "#6f42c1"


def page_changes(
    cache: CallCache, connect: Connect, kpi: KpiDefinition, period: Period, now: dt.datetime
) -> Deferred[list[DefinitionChange]]:
    """The KPI's definition changes within ``period`` (cached for the minute)."""
    question: Question[list[DefinitionChange]] = Question(
        "kpi_definition_changes",
        list[DefinitionChange],
        {"kpi": kpi.id, "start": period.start, "end": period.end, "minute": minute_of(now)},
    )
    return cache.defer(
        question,
        lambda: definition_changes(connect(), cache.principal, kpi.id, period.start, period.end),
    )


def change_text(change: DefinitionChange) -> str:
    """``Definition changed on 3 Dec: formula sum(a) → sum(a) - sum(b)``, and what else."""
    parts = []
    if change.formula != change.previous_formula:
        parts.append(f"formula {change.previous_formula} → {change.formula}")
    if change.unit != change.previous_unit:
        parts.append(f"unit {change.previous_unit or '(none)'} → {change.unit or '(none)'}")
    what = "; ".join(parts) or "format or direction"
    day = f"{change.at.day} {change.at:%b}"
    why = f" ({change.comment})" if change.comment else ""
    return f"Definition changed on {day}: {what}{why}."


def changes_note(changes: Sequence[DefinitionChange]) -> html.Div | None:
    """The header's warning: numbers before and after a change are not comparable."""
    if not changes:
        return None
    return html.Div(
        [html.Div(change_text(c)) for c in changes],
        id=NOTE_ID,
        className="alert alert-secondary py-1 px-2 small mb-2",
    )


def with_change_marks(
    figure: Figure, changes: Sequence[DefinitionChange], start: dt.datetime, end: dt.datetime
) -> Figure:
    """``figure`` with a labelled vertical line ("Definition v2") at each change in
    ``[start, end)``."""
    shapes, notes = [], []
    for change in changes:
        if start <= change.at < end:
            shape, note = vertical(change.at.isoformat(), f"Definition v{change.version}", COLOR)
            shapes.append(shape)
            notes.append(note)
    if not shapes:
        return figure
    layout = dict(figure["layout"])
    layout["shapes"] = [*layout.get("shapes", []), *shapes]
    layout["annotations"] = [*layout.get("annotations", []), *notes]
    return {"data": figure["data"], "layout": layout}
