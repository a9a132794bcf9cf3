"""Admin console, access review: grants unused for 90 days, quarterly campaigns, and the
reviewer's certify or revoke of each grant (``user:manage``, checked in the layout and every
callback).

The campaign comes from ``?campaign=<id>`` and the chosen grants from a checklist: both are
untrusted and checked by ``models.admin.reviews``. A revocation deletes the grant in the
decision's transaction; the user's next request is checked against what is left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dash
from dash import Input, Output, State, html

from dashboard.admin import users_params as params
from dashboard.admin.access_review import (
    REVIEW_PATH,
    decided_table,
    decision_form,
    pending_choices,
    review_header,
    review_href,
    reviews_table,
    start_form,
    unused_table,
)
from dashboard.admin.users import done
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    current_services,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common.look import refusal
from models.admin import reviews as admin
from models.admin.tables import Decision
from models.permissions import AccessDenied, Permission
from models.queries.admin import access_reviews as queries

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=REVIEW_PATH,
    name="Access review",
    title="Northstar · Access review",
    permission=Permission.USER_MANAGE.value,
    nav_group="Admin",
    order=42,
)

PAGE = "admin-access-review"
REVIEW_ID = "admin-review-id"
UNUSED_ID = "admin-review-unused"
LIST_ID = "admin-review-list"
DETAIL_ID = "admin-review-detail"
PANEL_ID = "admin-review-panel"
START = {key: f"admin-review-{key}" for key in ("quarter", "reviewer", "due", "start")} | {
    "start-result": "admin-review-start-result"
}
DECIDE = {key: f"admin-review-{key}" for key in ("pending", "note", "certify", "revoke")} | {
    "certify-result": "admin-review-certify-result",
    "revoke-result": "admin-review-revoke-result",
}
DONE = {action: f"admin-review-done-{action}" for action in ("start", "certify", "revoke")}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def layout(campaign: object = None, **_query: Any) -> html.Div:
    """Unused grants, the start form, the campaigns and the one chosen (``?campaign=<id>``)."""
    try:
        principal = current_principal()
        principal.require(Permission.USER_MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    with read_connection() as connection:
        people = queries.reviewers(connection, principal)
    today = utc_now().date()
    due = today + dt.timedelta(days=current_services().settings.access_review_due_days)
    return html.Div(
        [
            dash.dcc.Store(id=REVIEW_ID, data=campaign if isinstance(campaign, str) else None),
            *(dash.dcc.Store(id=store) for store in DONE.values()),
            html.H1("Access review", className="h3"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(
                                [html.Div(id=DETAIL_ID), decision_form(DECIDE)],
                                id=PANEL_ID,
                                hidden=True,
                            ),
                            html.H2("Campaigns", className="h5"),
                            html.Div(id=LIST_ID),
                            html.H2("Unused grants", className="h5"),
                            html.Div(id=UNUSED_ID),
                        ],
                        className="col-lg-8",
                    ),
                    html.Div(
                        start_form(START, people, admin.quarter_of(today), due),
                        className="col-lg-4",
                    ),
                ],
                className="row",
            ),
        ]
    )


@dash.callback(Output(UNUSED_ID, "children"), *(Input(s, "data") for s in DONE.values()))
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=error_view)
def unused_view(call: CallContext, /, *_done: object) -> html.Div:
    """Grants of the users this admin manages that were not used for the configured days."""
    days = current_services().settings.access_review_unused_days
    with read_connection() as connection:
        grants = queries.unused_grants(connection, call.principal, utc_now(), days)
    call.rows = len(grants)
    return unused_table(grants, days)


@dash.callback(Output(LIST_ID, "children"), *(Input(s, "data") for s in DONE.values()))
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=error_view)
def reviews_view(call: CallContext, /, *_done: object) -> html.Div:
    with read_connection() as connection:
        found = queries.list_reviews(connection, call.principal)
    call.rows = len(found)
    return reviews_table(found, utc_now().date())


def _detail_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), [], [], False


@dash.callback(
    Output(DETAIL_ID, "children"),
    Output(DECIDE["pending"], "options"),
    Output(DECIDE["pending"], "value"),
    Output(PANEL_ID, "hidden"),
    Input(REVIEW_ID, "data"),
    *(Input(s, "data") for s in DONE.values()),
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_detail_refused)
def review_detail(call: CallContext, /, campaign: object, *_done: object) -> tuple[Any, ...]:
    """The chosen campaign: its progress, the grants waiting and those decided."""
    if campaign is None:
        return None, [], [], True
    review_id = params.record_id(campaign, "a campaign")
    with read_connection() as connection:
        review = queries.get_review(connection, call.principal, review_id)
        items = queries.review_items(connection, call.principal, review_id)
    call.rows = len(items)
    call.detail = {"access_review": review_id}
    today = utc_now().date()
    shown = html.Div([review_header(review, today), decided_table(items)])
    return shown, pending_choices(items, review, call.principal.user_id), [], False


def _action_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), dash.no_update


@dash.callback(
    Output(START["start-result"], "children"),
    Output(DONE["start"], "data"),
    Input(START["start"], "n_clicks"),
    *(State(START[key], "value") for key in ("quarter", "reviewer", "due")),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=Permission.USER_MANAGE, on_error=_action_refused)
def start_campaign(
    call: CallContext, /, n_clicks: object, quarter: object, reviewer: object, due: object
) -> tuple[Any, Any]:
    """Snapshot every grant the reviewer may review into a new campaign (audited)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    reviewer_id = params.optional_id(reviewer, "a reviewer")
    if reviewer_id is None:
        raise ValueError("choose a reviewer")
    now = utc_now()
    days = current_services().settings.access_review_unused_days
    with write_session() as session:
        review_id = admin.start_review(
            session,
            call.principal,
            params.text(quarter, "quarter", 7).strip(),
            reviewer_id,
            params.date(due, "due date"),
            now,
            days,
        )
    call.rows = 1
    call.detail = {"access_review": review_id}
    shown = html.Div(
        [done("Campaign started."), dash.dcc.Link("Open it", href=review_href(review_id))]
    )
    return shown, now.isoformat()


def _decision(decision: Decision) -> Callable[..., tuple[Any, Any]]:
    """The guarded callback of the certify or revoke button."""

    def decide(
        call: CallContext, /, n_clicks: object, campaign: object, chosen: object, note: object
    ) -> tuple[Any, Any]:
        if not params.clicked(n_clicks):
            return dash.no_update, dash.no_update
        review_id = params.record_id(campaign, "a campaign")
        item_ids = params.id_list(chosen, "grant", admin.MAX_ITEMS)
        call.detail = {"access_review": review_id, "items": item_ids}
        now = utc_now()
        with write_session() as session:
            count = admin.decide(
                session,
                call.principal,
                review_id,
                item_ids,
                decision,
                params.text(note, "note"),
                now,
            )
        call.rows = count
        verb = "Certified" if decision is Decision.CERTIFY else "Revoked (effective now)"
        return done(f"{verb}: {count} grant(s)."), now.isoformat()

    decide.__name__ = f"{decision.value}_grants"
    action = decision.value
    guarded = guarded_callback(
        page=PAGE, permission=Permission.USER_MANAGE, on_error=_action_refused
    )(decide)
    return dash.callback(
        Output(DECIDE[f"{action}-result"], "children"),
        Output(DONE[action], "data"),
        Input(DECIDE[action], "n_clicks"),
        State(REVIEW_ID, "data"),
        State(DECIDE["pending"], "value"),
        State(DECIDE["note"], "value"),
        prevent_initial_call=True,
    )(guarded)


certify_grants = _decision(Decision.CERTIFY)
revoke_grants = _decision(Decision.REVOKE)
