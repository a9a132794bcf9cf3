"""A review (``/reviews/<id>``): what fired, the evidence chart, the history, and scheduling,
deciding and closing it with a note.

Anyone who may see the review's unit may read it; acting needs ``alert:manage`` or owning
it. The number comes from the URL, so every callback checks it again; each action runs in
its own committed transaction (``models.alerts.reviews``, which writes the audit row), so a
refused action changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from sqlalchemy.orm import Session

from dashboard.alerts.figures import EMPTY, evidence_figure
from dashboard.alerts.look import REVIEWS_PATH
from dashboard.alerts.params import parse_moment
from dashboard.alerts.review_views import action_done, action_panel, review_header, timeline
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common import params
from dashboard.common.look import refusal
from dashboard.shell import live
from models.alerts import reviews
from models.alerts.tables import ReviewState
from models.permissions import AccessDenied, Permission, Principal
from models.queries.alerts.reviews import ReviewView, get_review, review_steps

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path_template=f"{REVIEWS_PATH}/<review_id>",
    name="Review",
    title="Northstar · Review",
    nav=False,
    permission=Permission.KPI_VIEW.value,
)

PAGE = "review"
REVIEW_ID = "review-id"
HEADER_ID = "review-header"
EVIDENCE_ID = "review-evidence"
STEPS_ID = "review-timeline"
PANEL_ID = "review-panel"
ACTIONS = ("schedule", "decide", "close")
IDS = {
    "note": "review-note",
    "when": "review-when",
    **{action: f"review-{action}" for action in ACTIONS},
    **{f"{action}-result": f"review-{action}-result" for action in ACTIONS},
}
DONE = {action: f"review-{action}-done" for action in ACTIONS}
"""A store per action, changed after it succeeded: the page then reads the review again."""


def layout(review_id: str | None = None, **_query: Any) -> html.Div:
    """The page's frame; the callbacks check the review number and fill it in."""
    try:
        current_principal().require(Permission.KPI_VIEW)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return html.Div(
        [
            dcc.Store(id=REVIEW_ID, data=review_id),
            *(dcc.Store(id=store) for store in DONE.values()),
            dcc.Link("← Reviews", href=REVIEWS_PATH, className="small"),
            html.Div(id=HEADER_ID, className="mb-3"),
            html.Div(
                [
                    html.Div(
                        [
                            dcc.Graph(id=EVIDENCE_ID, figure=EMPTY, config={"displaylogo": False}),
                            html.H2("History", className="h5"),
                            html.Div(id=STEPS_ID),
                        ],
                        className="col-lg-8",
                    ),
                    html.Div(
                        html.Div(action_panel(IDS), id=PANEL_ID, hidden=True),
                        className="col-lg-4",
                    ),
                ],
                className="row",
            ),
        ]
    )


def _detail_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), EMPTY, None, True


@dash.callback(
    Output(HEADER_ID, "children"),
    Output(EVIDENCE_ID, "figure"),
    Output(STEPS_ID, "children"),
    Output(PANEL_ID, "hidden"),
    Input(REVIEW_ID, "data"),
    *(Input(store, "data") for store in DONE.values()),
)
@guarded_callback(page=PAGE, permission=Permission.KPI_VIEW, on_error=_detail_refused)
def review_detail(call: CallContext, /, review: object, *_done: object) -> tuple[Any, ...]:
    """The review in scope named by ``review`` (untrusted), read again after each action."""
    review_id = params.record_id(review, "a review")
    with read_connection() as connection:
        found = get_review(connection, call.principal, review_id)
        steps = review_steps(connection, call.principal, review_id)
    call.rows = 1 + len(steps) + len(found.evidence.get("series") or ())
    call.detail = {"review": review_id}
    may_act = reviews.may_act(call.principal, found.owner.id if found.owner else None)
    hidden = not may_act or found.state is ReviewState.CLOSED
    figure = evidence_figure(found.evidence, f"{found.kpi_name} at {found.unit_name} when it fired")
    return review_header(found, live.utc_now()), figure, timeline(steps), hidden


Act = Callable[[Session, Principal, int, dt.datetime], ReviewView]


def _act(
    call: CallContext, act: Act, n_clicks: object, review: object, done: str
) -> tuple[Any, Any]:
    """Check the review is in scope; if the button was clicked, run ``act`` in its own
    transaction (committed, or rolled back on any refusal) and say what happened."""
    review_id = params.record_id(review, "a review")
    call.detail = {"review": review_id}
    if not params.clicked(n_clicks):
        with read_connection() as connection:
            get_review(connection, call.principal, review_id)
        return dash.no_update, dash.no_update
    now = live.utc_now()
    with write_session() as session:
        view = act(session, call.principal, review_id, now)
    call.rows = 1
    call.detail["state"] = view.state.value
    return action_done(done), now.isoformat()


def _action_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), dash.no_update


def _action(action: str, *states: State) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the guarded callback of ``action``'s button."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        guarded = guarded_callback(
            page=PAGE, permission=Permission.KPI_VIEW, on_error=_action_refused
        )(fn)
        return dash.callback(
            Output(IDS[f"{action}-result"], "children"),
            Output(DONE[action], "data"),
            Input(IDS[action], "n_clicks"),
            State(REVIEW_ID, "data"),
            *states,
            prevent_initial_call=True,
        )(guarded)

    return register


@_action("schedule", State(IDS["when"], "value"), State(IDS["note"], "value"))
def schedule_review(
    call: CallContext, n_clicks: object, review: object, when: object, note: object
) -> tuple[Any, Any]:
    """Set (or move) the meeting where the review is decided."""
    text = params.note(note)
    moment = parse_moment(when, "meeting time")

    def schedule(session: Session, who: Principal, review_id: int, now: dt.datetime) -> ReviewView:
        if moment is None:
            raise ValueError("choose the meeting's date and time")
        return reviews.schedule(session, who, review_id, moment, text, now)

    return _act(call, schedule, n_clicks, review, "Scheduled.")


@_action("decide", State(IDS["note"], "value"))
def decide_review(
    call: CallContext, n_clicks: object, review: object, note: object
) -> tuple[Any, Any]:
    """Record the decision (the note says what was decided)."""
    text = params.note(note)
    return _act(
        call,
        lambda s, p, i, now: reviews.decide(s, p, i, text, now),
        n_clicks,
        review,
        "Decision recorded: it shows on the KPI's trend.",
    )


@_action("close", State(IDS["note"], "value"))
def close_review(
    call: CallContext, n_clicks: object, review: object, note: object
) -> tuple[Any, Any]:
    """Close the review (after its decision, or without one when the note says why)."""
    text = params.note(note)
    return _act(
        call, lambda s, p, i, now: reviews.close(s, p, i, text, now), n_clicks, review, "Closed."
    )
