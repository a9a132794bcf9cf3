"""A KPI page's reviews: its open reviews and past decisions at the unit (or below it), read
through the answer cache, shown above the trend and marked on it.

**Cached for the minute** (like the KPI definitions): reviews change without a data version,
so an answer is keyed by the current minute, the KPI, the unit and the principal's scope. A
review opened or decided shows on the KPI page within a minute; its own page is live.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from dash import dcc, html

from dashboard.alerts.figures import ReviewMark
from dashboard.alerts.look import REVIEWS_PATH, review_href
from dashboard.cache.answers import CallCache, Deferred, Question
from dashboard.cache.lazy import Connect
from dashboard.cache.reads import minute_of
from dashboard.common.look import when
from models.alerts.tables import ReviewState
from models.queries.alerts.reviews import UNFINISHED, kpi_reviews
from models.queries.common import Period
from models.queries.executive.definitions import KpiDefinition
from models.queries.scope import Unit

STRIP_ID = "kpi-reviews"
SHOWN = 5


@dataclass(frozen=True, slots=True)
class ReviewNote:
    """What the KPI page shows of a review."""

    id: int
    title: str
    unit_name: str
    state: ReviewState
    opened_at: dt.datetime
    due_at: dt.datetime
    decided_at: dt.datetime | None
    decision_note: str | None

    @property
    def unfinished(self) -> bool:
        return self.state in UNFINISHED


def page_reviews(
    cache: CallCache,
    connect: Connect,
    kpi: KpiDefinition,
    unit: Unit,
    period: Period,
    now: dt.datetime,
) -> Deferred[list[ReviewNote]]:
    """The KPI's reviews at ``unit`` that are unfinished or were decided since the period's
    start, newest first (cached for the minute, see the module)."""
    minute = minute_of(now)
    question: Question[list[ReviewNote]] = Question(
        "kpi_reviews",
        list[ReviewNote],
        {"kpi": kpi.id, "unit": unit, "since": period.start, "minute": minute},
    )

    def read() -> list[ReviewNote]:
        found = kpi_reviews(connect(), cache.principal, kpi.id, unit.path, since=period.start)
        return [
            ReviewNote(
                r.id,
                r.title,
                r.unit_name,
                r.state,
                r.opened_at,
                r.due_at,
                r.decided_at,
                r.decision_note,
            )
            for r in found
        ]

    return cache.defer(question, read)


def marks(notes: Sequence[ReviewNote]) -> list[ReviewMark]:
    """Where the trend shows each review: when it opened (still open) or was decided."""
    found = []
    for note in notes:
        if note.decided_at is not None:
            found.append(ReviewMark(note.id, note.decided_at, f"Decided #{note.id}", open=False))
        elif note.unfinished:
            found.append(ReviewMark(note.id, note.opened_at, f"Review #{note.id}", open=True))
    return found


def _item(note: ReviewNote) -> html.Li:
    link = dcc.Link(f"#{note.id} {note.title}", href=review_href(note.id))
    if note.decided_at is not None:
        text = f" — decided {when(note.decided_at)}: {note.decision_note or ''}"
    else:
        text = f" — {note.state.value}, due {when(note.due_at)}"
    return html.Li([link, html.Span(text, className="text-muted")])


def review_strip(notes: Sequence[ReviewNote]) -> html.Div | None:
    """ "Open reviews" and "Decisions" lists above the trend; nothing when there are none."""
    if not notes:
        return None
    unfinished = [n for n in notes if n.unfinished][:SHOWN]
    decided = [n for n in notes if n.decided_at is not None][:SHOWN]
    parts: list[html.Div] = []
    for heading, chosen in (("Open reviews", unfinished), ("Decisions", decided)):
        if chosen:
            parts.append(
                html.Div(
                    [
                        html.Strong(f"{heading} ({len(chosen)})"),
                        html.Ul([_item(n) for n in chosen], className="mb-1"),
                    ]
                )
            )
    parts.append(html.Div(dcc.Link("All reviews →", href=REVIEWS_PATH), className="small"))
    return html.Div(parts, id=STRIP_ID, className="alert alert-light border small py-2")
