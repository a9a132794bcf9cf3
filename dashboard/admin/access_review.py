"""The access review page's parts: unused grants, the start form, campaigns, one campaign's
grants and the decision form (pure: data in, components out)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import HIDDEN, when
from models.admin.tables import Decision, GrantKind, ReviewState
from models.queries.admin.access_reviews import Grant, Person, ReviewItem, ReviewSummary

REVIEW_PATH = "/admin/access-review"
KIND_TEXT = {GrantKind.ROLE: "Role", GrantKind.SCOPE: "Scope"}
DECISION_TEXT = {Decision.CERTIFY: "✔ Certified", Decision.REVOKE: "✖ Revoked"}
FLAG = "⚠ unused"


def review_href(review_id: int) -> str:
    return f"{REVIEW_PATH}?{urlencode({'campaign': review_id})}"


def day(at: dt.datetime | None) -> str:
    return "never" if at is None else f"{at.astimezone(dt.UTC):%Y-%m-%d}"


def _table(columns: Sequence[str], rows: list[html.Tr], table_id: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, responsive=True, id=table_id)


def unused_table(grants: Sequence[Grant], unused_days: int) -> html.Div:
    """Grants unused for ``unused_days``: who, what, granted when, last used when."""
    intro = html.P(
        f"Grants not used for {unused_days} days or more (a grant counts as used on any day "
        "its holder used Northstar).",
        className="small text-muted",
    )
    if not grants:
        return html.Div([intro, html.P("No unused grant.", className="text-muted")])
    rows = [
        html.Tr(
            [
                html.Td(f"{g.user_name} ({g.user_email})"),
                html.Td(f"{KIND_TEXT[g.kind]}: {g.grant_name}"),
                html.Td(day(g.granted_at)),
                html.Td([html.Span("⚠ ", **HIDDEN), day(g.last_used_at)]),
            ]
        )
        for g in grants
    ]
    columns = ("User", "Grant", "Granted", "Last used")
    return html.Div([intro, _table(columns, rows, "admin-review-unused-rows")])


def _field(label: str, control_id: str, control: Any) -> html.Div:
    return html.Div(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control],
        className="mb-2",
    )


def start_form(
    ids: Mapping[str, str], reviewers: Sequence[Person], quarter: str, due: dt.date
) -> dbc.Card:
    """``ids``: quarter, reviewer, due, start, start-result."""
    options = [{"label": f"{p.name} ({p.email})", "value": str(p.id)} for p in reviewers]
    return dbc.Card(
        [
            dbc.CardHeader("Start a quarterly campaign"),
            dbc.CardBody(
                [
                    _field(
                        "Quarter",
                        ids["quarter"],
                        dbc.Input(id=ids["quarter"], value=quarter, maxlength=7),
                    ),
                    _field(
                        "Reviewer",
                        ids["reviewer"],
                        dbc.Select(
                            id=ids["reviewer"], options=options, placeholder="Choose a reviewer"
                        ),
                    ),
                    _field(
                        "Due",
                        ids["due"],
                        dbc.Input(id=ids["due"], type="date", value=due.isoformat()),
                    ),
                    dbc.Button("Start campaign", id=ids["start"], n_clicks=0, size="sm"),
                    html.Div(id=ids["start-result"], className="small mt-1", role="status"),
                ]
            ),
        ],
        class_name="mb-3",
    )


def state_text(review: ReviewSummary, today: dt.date) -> str:
    if review.state is ReviewState.CLOSED:
        return "✔ Closed"
    return "⚠ Overdue" if review.due_on < today else "● Open"


def reviews_table(reviews: Sequence[ReviewSummary], today: dt.date) -> html.Div:
    if not reviews:
        return html.Div(html.P("No campaign yet.", className="text-muted"))
    rows = [
        html.Tr(
            [
                html.Td(
                    dcc.Link(r.quarter, href=review_href(r.id), id=f"admin-review-link-{r.id}")
                ),
                html.Td(r.reviewer),
                html.Td(r.due_on.isoformat()),
                html.Td(state_text(r, today)),
                html.Td(f"{r.items - r.pending} of {r.items} decided"),
                html.Td(str(r.revoked)),
                html.Td(str(r.flagged)),
            ]
        )
        for r in reviews
    ]
    columns = ("Quarter", "Reviewer", "Due", "State", "Progress", "Revoked", "Flagged")
    return html.Div(_table(columns, rows, "admin-review-campaigns"))


def may_decide(item: ReviewItem, review: ReviewSummary, user_id: int | None) -> bool:
    """The rule of ``models.admin.reviews``: the reviewer decides, except their own grants;
    another admin decides those and the grants of users moved out of the reviewer's scope.
    (Only grants of users the viewer may manage are listed at all.)"""
    if item.decision is not None or item.user_id == user_id:
        return False
    if user_id == review.reviewer_id or item.user_id == review.reviewer_id:
        return True
    return not item.reviewer_manages


def item_label(item: ReviewItem) -> str:
    flag = f" · {FLAG}" if item.flagged else ""
    return (
        f"{item.user_name} ({item.user_email}) · {KIND_TEXT[item.kind]}: {item.grant_name} · "
        f"last used {day(item.last_used_at)}{flag}"
    )


def pending_choices(
    items: Sequence[ReviewItem], review: ReviewSummary, user_id: int | None
) -> list[dict[str, Any]]:
    """The undecided grants; those this admin may not decide are shown, disabled."""
    choices = []
    for item in items:
        if item.decision is not None:
            continue
        allowed = may_decide(item, review, user_id)
        suffix = "" if allowed else " (decided by another admin)"
        choices.append(
            {"label": item_label(item) + suffix, "value": item.id, "disabled": not allowed}
        )
    return choices


def review_header(review: ReviewSummary, today: dt.date) -> html.Div:
    return html.Div(
        [
            html.H2(f"Campaign {review.quarter}", className="h5"),
            html.P(
                f"Reviewer {review.reviewer} · due {review.due_on.isoformat()} · "
                f"{state_text(review, today)} · {review.items - review.pending} of "
                f"{review.items} decided, {review.revoked} revoked",
                className="small",
                id="admin-review-summary",
            ),
        ]
    )


def decided_table(items: Sequence[ReviewItem]) -> html.Div:
    decided = [i for i in items if i.decision is not None]
    if not decided:
        return html.Div()
    rows = [
        html.Tr(
            [
                html.Td(f"{i.user_name} ({i.user_email})"),
                html.Td(f"{KIND_TEXT[i.kind]}: {i.grant_name}"),
                html.Td(DECISION_TEXT[i.decision] if i.decision else ""),
                html.Td(f"{i.decided_by or '—'} · {when(i.decided_at)}"),
                html.Td(i.note or "—"),
            ]
        )
        for i in decided
    ]
    columns = ("User", "Grant", "Decision", "By", "Note")
    return html.Div(
        [html.H3("Decided", className="h6"), _table(columns, rows, "admin-review-decided")]
    )


def decision_form(ids: Mapping[str, str]) -> dbc.Card:
    """``ids``: pending, note, certify, revoke and their ``-result``."""

    def button(action: str, label: str, color: str) -> html.Div:
        return html.Div(
            [
                dbc.Button(label, id=ids[action], color=color, n_clicks=0, size="sm"),
                html.Div(id=ids[f"{action}-result"], className="small mt-1", role="status"),
            ],
            className="me-3",
        )

    return dbc.Card(
        [
            dbc.CardHeader("Grants waiting for a decision"),
            dbc.CardBody(
                [
                    dbc.Checklist(id=ids["pending"], options=[], value=[], class_name="mb-2"),
                    _field(
                        "Note (why)",
                        ids["note"],
                        dbc.Textarea(id=ids["note"], value="", maxLength=1000),
                    ),
                    html.Div(
                        [
                            button("certify", "Certify selected", "success"),
                            button("revoke", "Revoke selected", "danger"),
                        ],
                        className="d-flex",
                    ),
                ]
            ),
        ],
        class_name="mb-3",
    )
