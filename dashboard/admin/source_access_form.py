"""The source admin page's access card: sensitivity, active flag and partner agreement
(pure builders; the callbacks are in ``dashboard/admin/pages/source_access.py``)."""

from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.admin.source_forms import SENSITIVITY_OPTIONS

ACCESS_IDS = {
    name: f"admin-source-access-{name}"
    for name in (
        "sensitivity",
        "active",
        "agreement-ref",
        "agreement-expires",
        "agreement-state",
        "save",
        "note",
        "saved",
    )
}


def _labelled(label: str, control_id: str, control: object, width: int) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control], xs=12, md=width
    )


def expiry_day(expires_at: dt.datetime | None) -> str | None:
    """The stored expiry as the date field shows it (its UTC day)."""
    return None if expires_at is None else f"{expires_at.astimezone(dt.UTC):%Y-%m-%d}"


def agreement_state(
    ref: str | None, expires_at: dt.datetime | None, active: bool, now: dt.datetime
) -> html.P:
    """Whether the source may deliver now, and why not."""
    if not active:
        text, color = "Inactive: the ingest API refuses its records and it is not pulled.", "muted"
    elif expires_at is not None and expires_at <= now:
        text = (
            f"{ref} expired at {expires_at:%Y-%m-%d %H:%M} UTC: the ingest API refuses its "
            "records (403) and it is not pulled until the agreement is renewed."
        )
        color = "danger"
    elif ref is None:
        text, color = "No partner agreement: records are taken in.", "muted"
    elif expires_at is None:
        text, color = f"{ref}, without an expiry: records are taken in.", "muted"
    else:
        text, color = f"{ref} runs until {expires_at:%Y-%m-%d %H:%M} UTC.", "muted"
    return html.P(text, className=f"small text-{color} mb-2")


def access_card() -> dbc.Card:
    """The form; its values come from the access view callback."""
    ids = ACCESS_IDS
    body = [
        html.H2("Access and partner agreement", className="h5"),
        html.Div(id=ids["agreement-state"]),
        dbc.Row(
            [
                _labelled(
                    "Sensitivity",
                    ids["sensitivity"],
                    dcc.Dropdown(id=ids["sensitivity"], options=SENSITIVITY_OPTIONS),
                    3,
                ),
                _labelled(
                    "Agreement reference (empty: none)",
                    ids["agreement-ref"],
                    dbc.Input(id=ids["agreement-ref"], type="text", maxLength=200),
                    4,
                ),
                _labelled(
                    "Agreement expires (end of day, UTC)",
                    ids["agreement-expires"],
                    dbc.Input(id=ids["agreement-expires"], type="date"),
                    3,
                ),
                dbc.Col(
                    dbc.Switch(id=ids["active"], label="Active", value=True),
                    xs=12,
                    md=2,
                    class_name="d-flex align-items-end",
                ),
            ],
            class_name="g-2 mb-2",
        ),
        dbc.Button("Save access", id=ids["save"], color="primary", size="sm"),
        html.Div(id=ids["note"], className="mt-2"),
        dcc.Store(id=ids["saved"]),
    ]
    return dbc.Card(dbc.CardBody(body), class_name="mb-3")
