"""The source admin page's pull card: kind, target (password masked), query, interval and a
test pull's findings (pure builders; callbacks in ``dashboard/admin/pages/source_pull.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.admin.source_params import NO_PULL
from models.enums import PullKind

PULL_IDS = {
    name: f"admin-source-pull-{name}"
    for name in (
        "view-note",
        "kind",
        "target",
        "query",
        "interval",
        "save",
        "note",
        "saved",
        "test",
        "tested",
    )
}
KIND_OPTIONS = [{"label": "not pulled", "value": NO_PULL}] + [
    {"label": k.value, "value": k.value} for k in PullKind
]


def _labelled(label: str, control_id: str, control: object, width: int) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control], xs=12, md=width
    )


def trial_view(
    fetched: int, accepted: int, rejected: int, problems: Sequence[tuple[str, str, int]]
) -> html.Div:
    """What a test pull found; nothing was stored."""
    lines: list[Any] = [
        html.P(
            f"Test pull: {fetched:,} records fetched, {accepted:,} valid, {rejected:,} would be "
            "quarantined. Nothing was stored.",
            className="mb-1",
        )
    ]
    if problems:
        lines.append(
            html.Ul([html.Li(f"{field}: {rule}, {n:,} records") for field, rule, n in problems])
        )
    return html.Div(lines, className="alert alert-info small")


def pull_card() -> dbc.Card:
    """The form; its values come from the pull view callback."""
    ids = PULL_IDS
    body = [
        html.H2("Pull", className="h5"),
        html.Div(id=ids["view-note"]),
        html.P(
            "Microbatch and scheduled sources may be fetched by the workers instead of "
            "posting (docs: processes, Pulled sources). A password in the target is shown "
            "as *** and kept when saved so.",
            className="small text-muted",
        ),
        dbc.Row(
            [
                _labelled(
                    "Kind", ids["kind"], dcc.Dropdown(id=ids["kind"], options=KIND_OPTIONS), 2
                ),
                _labelled(
                    "Target (http(s) URL or database URL)",
                    ids["target"],
                    dbc.Input(id=ids["target"], type="text", maxLength=2000),
                    7,
                ),
                _labelled(
                    "Every (seconds; empty: default)",
                    ids["interval"],
                    dbc.Input(id=ids["interval"], type="number", min=1, step=1),
                    3,
                ),
            ],
            class_name="g-2 mb-2",
        ),
        _labelled(
            "Query (sql: with :watermark)",
            ids["query"],
            dbc.Textarea(id=ids["query"], rows=3, class_name="font-monospace"),
            12,
        ),
        html.Div(
            [
                dbc.Button("Save pull settings", id=ids["save"], color="primary", size="sm"),
                dbc.Button(
                    "Test pull", id=ids["test"], color="secondary", size="sm", class_name="ms-2"
                ),
            ],
            className="mt-2",
        ),
        html.Div(id=ids["note"], className="mt-2"),
        html.Div(id=ids["tested"], className="mt-2"),
        dcc.Store(id=ids["saved"]),
    ]
    return dbc.Card(dbc.CardBody(body), class_name="mb-3")
