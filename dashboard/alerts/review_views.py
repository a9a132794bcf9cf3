"""The reviews pages' parts: filters, the list, a review's header, history and actions (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from enum import StrEnum

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from dashboard.alerts.look import (
    kpi_href,
    review_href,
    review_state_badge,
    severity_badge,
)
from dashboard.common.look import HIDDEN, when
from ingest.alerts.wording import judged_text
from models.alerts.tables import AlertSeverity, Condition, ReviewEventKind, ReviewState
from models.queries.alerts.reviews import ReviewStep, ReviewView

UNFINISHED = [ReviewState.OPEN.value, ReviewState.SCHEDULED.value]
"""The list's default: what still needs a decision."""
COLUMNS = ("State", "Review", "Severity", "Owner", "Due", "Opened", "Firings")
STEP_LOOK = {
    ReviewEventKind.OPENED: ("●", "Opened"),
    ReviewEventKind.UPDATED: ("↻", "Fired again"),
    ReviewEventKind.SCHEDULED: ("◷", "Scheduled"),
    ReviewEventKind.DECIDED: ("✔", "Decided"),
    ReviewEventKind.CLOSED: ("■", "Closed"),
}


class OwnerFilter(StrEnum):
    """The "only mine" switch's one value."""

    MINE = "mine"


def filters(ids: Mapping[str, str], states: Sequence[str]) -> dbc.Row:
    """State and severity (several each; none: all) and "only mine"."""

    def column(label: str, control_id: str, control: Component, width: int) -> dbc.Col:
        title = dbc.Label(label, html_for=control_id, class_name="small mb-0")
        return dbc.Col([title, control], xs=12, md=width)

    return dbc.Row(
        [
            column(
                "State",
                ids["state"],
                dcc.Dropdown(
                    id=ids["state"],
                    options=[{"label": s.value.title(), "value": s.value} for s in ReviewState],
                    value=list(states),
                    multi=True,
                    placeholder="Every state",
                ),
                4,
            ),
            column(
                "Severity",
                ids["severity"],
                dcc.Dropdown(
                    id=ids["severity"],
                    options=[{"label": s.value.title(), "value": s.value} for s in AlertSeverity],
                    value=[],
                    multi=True,
                    placeholder="Every severity",
                ),
                4,
            ),
            column(
                "Owner",
                ids["mine"],
                dbc.Checklist(
                    id=ids["mine"],
                    options=[{"label": "Only reviews I own", "value": OwnerFilter.MINE.value}],
                    value=[],
                    switch=True,
                ),
                4,
            ),
        ],
        class_name="g-2 mb-3",
    )


def due_text(review: ReviewView, now: dt.datetime) -> str:
    overdue = review.unfinished and review.due_at < now
    return f"{when(review.due_at)}{' (overdue)' if overdue else ''}"


def reviews_table(reviews: Sequence[ReviewView], now: dt.datetime, *, limit: int) -> Component:
    """The reviews, unfinished first and soonest due first, each linking to its page."""
    if not reviews:
        return html.P("No review on a unit of your scope matches.", className="text-muted")
    rows = [
        html.Tr(
            [
                html.Td(review_state_badge(r.state)),
                html.Td(dcc.Link(r.title, href=review_href(r.id))),
                html.Td(severity_badge(r.severity)),
                html.Td(r.owner.name if r.owner else "—"),
                html.Td(due_text(r, now)),
                html.Td(when(r.opened_at)),
                html.Td(str(r.occurrences)),
            ],
            id=f"review-row-{r.id}",
        )
        for r in reviews
    ]
    table = dbc.Table(
        [html.Thead(html.Tr([html.Th(c, scope="col") for c in COLUMNS])), html.Tbody(rows)],
        hover=True,
        responsive=True,
        size="sm",
        class_name="align-middle",
    )
    more = f"Showing the first {limit}: narrow the filters." if len(reviews) >= limit else None
    return html.Div([table, html.P(more, className="small text-muted") if more else None])


def _fact(term: str, value: str | Component) -> list[Component]:
    return [html.Dt(term, className="col-sm-3"), html.Dd(value, className="col-sm-9 mb-1")]


def judged(review: ReviewView) -> str:
    """The value the alert fired on, in the KPI's format (or a percentage)."""
    facts = review.evidence
    try:
        condition = Condition(str(facts.get("condition")))
    except ValueError:
        return "—"
    value = facts.get("value")
    number = float(value) if isinstance(value, int | float) else None
    return judged_text(
        condition, number, str(facts.get("kpi_format", ",.2f")), str(facts.get("kpi_unit", ""))
    )


def review_header(review: ReviewView, now: dt.datetime) -> html.Div:
    """Title, severity and state (icon and word), and the facts to decide on."""
    facts = [
        *_fact("KPI", dcc.Link(review.kpi_name, href=kpi_href(review.kpi_key, review.unit_key))),
        *_fact("Org unit", review.unit_name),
        *_fact("Fired on", f"{judged(review)} ({review.occurrences} firing(s))"),
        *_fact("Owner", review.owner.name if review.owner else "Anyone with alert:manage"),
        *_fact("Due", due_text(review, now)),
        *_fact("Opened", when(review.opened_at)),
        *_fact("Last fired", when(review.last_seen_at)),
    ]
    if review.scheduled_for is not None:
        facts += _fact("Scheduled for", when(review.scheduled_for))
    if review.decided_at is not None:
        who = review.decided_by.name if review.decided_by else "—"
        facts += _fact("Decided", f"{when(review.decided_at)} by {who}")
        facts += _fact("Decision", review.decision_note or "—")
    if review.closed_at is not None:
        facts += _fact("Closed", when(review.closed_at))
    return html.Div(
        [
            html.H1(f"Review #{review.id}: {review.title}", className="h4"),
            html.Div(
                [severity_badge(review.severity), " ", review_state_badge(review.state)],
                className="mb-2",
            ),
            html.Dl(facts, className="row small mb-0"),
        ]
    )


def timeline(steps: Sequence[ReviewStep]) -> html.Ol:
    """Every step, oldest first: what happened, who, when, the note."""
    items = []
    for entry in steps:
        icon, word = STEP_LOOK[entry.kind]
        items.append(
            html.Li(
                [
                    html.Div(
                        [
                            html.Span(icon, **HIDDEN),
                            html.Strong(f" {word}"),
                            html.Span(f" · {entry.actor} · {when(entry.at)}"),
                        ]
                    ),
                    html.Div(entry.note, className="small") if entry.note else None,
                ],
                className="list-group-item",
            )
        )
    return html.Ol(items, className="list-group mb-3", id="review-steps")


def action_panel(ids: Mapping[str, str]) -> dbc.Card:
    """The note, the meeting time and a button per action, each with a place for its answer.

    ``ids`` names: note, when, schedule, decide, close and each ``<action>-result``.
    """

    def button(action: str, label: str, color: str) -> html.Div:
        return html.Div(
            [
                dbc.Button(label, id=ids[action], color=color, n_clicks=0, class_name="me-2"),
                html.Div(id=ids[f"{action}-result"], className="small mt-1", role="status"),
            ],
            className="mb-2",
        )

    return dbc.Card(
        [
            dbc.CardHeader("Act on this review"),
            dbc.CardBody(
                [
                    dbc.Label("Note", html_for=ids["note"], class_name="small mb-0"),
                    dbc.Textarea(
                        id=ids["note"],
                        value="",
                        maxLength=4000,
                        placeholder="The decision (required to decide), or why it is closed",
                        class_name="mb-2",
                    ),
                    dbc.Label("Meeting (UTC)", html_for=ids["when"], class_name="small mb-0"),
                    dbc.Input(id=ids["when"], type="datetime-local", value="", class_name="mb-1"),
                    button("schedule", "Schedule", "secondary"),
                    button("decide", "Record the decision", "primary"),
                    button("close", "Close", "dark"),
                ]
            ),
        ],
        class_name="mb-3",
    )


def action_done(message: str) -> html.Div:
    return html.Div(message, className="alert alert-success py-1 px-2 mb-0")
