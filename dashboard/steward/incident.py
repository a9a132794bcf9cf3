"""The incident page's parts: header, timeline, affected KPIs and the action forms (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import (
    HIDDEN,
    events_href,
    health_href,
    kpi_page_href,
    quality_badge,
    severity_badge,
    status_badge,
    when,
)
from dashboard.steward.quarantine_layout import source_href
from dashboard.steward.queue import owner_text
from models.quality.tables import IncidentEventKind
from models.queries.steward.incidents import IncidentView, Person, TimelineEntry
from models.queries.steward.quality import Badge

KIND_LOOK = {
    IncidentEventKind.OPENED: ("●", "Opened"),
    IncidentEventKind.ACKNOWLEDGED: ("◐", "Acknowledged"),
    IncidentEventKind.ASSIGNED: ("→", "Assigned"),
    IncidentEventKind.COMMENTED: ("✎", "Comment"),
    IncidentEventKind.ESCALATED: ("⇧", "Escalated"),
    IncidentEventKind.RECOVERED: ("↺", "Recovered"),
    IncidentEventKind.RELAPSED: ("↻", "Failing again"),
    IncidentEventKind.RESOLVED: ("✔", "Resolved"),
}


def _fact(term: str, value: Any) -> list[html.Dt | html.Dd]:
    return [html.Dt(term, className="col-sm-3"), html.Dd(value, className="col-sm-9 mb-1")]


def incident_header(incident: IncidentView) -> html.Div:
    """Title, severity and state (icon and word), and the facts a steward needs first."""
    facts = [
        *_fact(
            "Source",
            [
                dcc.Link(incident.source_name, href=source_href(incident.source_key)),
                " · ",
                dcc.Link("volume and checks", href=health_href(incident.source_key)),
            ],
        ),
        *_fact("Check", incident.check_name),
        *_fact("Summary", incident.summary),
        *_fact("Opened", when(incident.opened_at)),
        *_fact("Last seen", f"{when(incident.last_seen_at)} ({incident.occurrences} failing)"),
        *_fact("Owner", owner_text(incident)),
        *_fact("Owner unit", incident.owner_unit_name),
        *_fact("Escalation level", str(incident.escalation_level)),
    ]
    if incident.acknowledged_by is not None:
        facts += _fact(
            "Acknowledged",
            f"{when(incident.acknowledged_at)} by {incident.acknowledged_by.name}",
        )
    if incident.resolved_at is not None:
        who = incident.resolved_by.name if incident.resolved_by else "the system"
        facts += _fact("Resolved", f"{when(incident.resolved_at)} by {who}")
        facts += _fact("Resolution", incident.resolution_note or "—")
    return html.Div(
        [
            html.H1(f"Incident #{incident.id}: {incident.title}", className="h4"),
            html.Div(
                [severity_badge(incident.severity), " ", status_badge(incident.status)],
                className="mb-2",
            ),
            html.Dl(facts, className="row small mb-0"),
        ]
    )


def _detail_text(entry: TimelineEntry) -> str:
    """The parts of a step's detail worth reading: who was assigned or notified."""
    parts = []
    assignee = entry.detail.get("assignee")
    if isinstance(assignee, dict) and isinstance(assignee.get("name"), str):
        parts.append(f"Assigned to {assignee['name']}.")
    notified = entry.detail.get("notified")
    if isinstance(notified, list) and notified:
        names = [p["name"] for p in notified if isinstance(p, dict) and "name" in p]
        parts.append(f"Notified: {', '.join(str(n) for n in names)}.")
    return " ".join(parts)


def timeline(entries: Sequence[TimelineEntry]) -> html.Ol:
    """Every step oldest first: time, what happened, who did it, the note."""
    items = []
    for entry in entries:
        icon, word = KIND_LOOK[entry.kind]
        detail = _detail_text(entry)
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
                    html.Div(detail, className="small text-muted") if detail else None,
                ],
                className="list-group-item",
            )
        )
    return html.Ol(items, className="list-group mb-3", id="incident-steps")


def affected_kpis(
    keys: Sequence[str], names: Mapping[str, str], badges: Mapping[str, Badge]
) -> html.P | html.Ul:
    """The KPIs the incident's source feeds (through lineage), each with its current badge
    and links to its KPI page and events."""
    if not keys:
        return html.P("No KPI reads this source.", className="text-muted")
    return html.Ul(
        [
            html.Li(
                [
                    quality_badge(badges.get(key)),
                    " ",
                    dcc.Link(names.get(key, key), href=kpi_page_href(key)),
                    html.Span(" · ", className="text-muted"),
                    dcc.Link("events", href=events_href(key), className="small"),
                ],
                className="mb-1",
            )
            for key in keys
        ],
        className="list-unstyled mb-0",
    )


def assignee_options(people: Sequence[Person]) -> list[dict[str, Any]]:
    return [{"label": p.name, "value": p.id} for p in people]


def action_panel(ids: Mapping[str, str]) -> dbc.Card:
    """The note, the assignee and one button per action, each with a place for its answer.

    ``ids`` names: note, assignee, acknowledge, assign, comment, resolve and each action's
    ``<action>-result``.
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
            dbc.CardHeader("Act on this incident"),
            dbc.CardBody(
                [
                    dbc.Label("Note", html_for=ids["note"], class_name="small mb-0"),
                    dbc.Textarea(
                        id=ids["note"],
                        value="",
                        maxLength=4000,
                        placeholder="What you found or did (required to comment and resolve)",
                        class_name="mb-2",
                    ),
                    button("acknowledge", "Acknowledge", "warning"),
                    dbc.Label("Assign to", html_for=ids["assignee"], class_name="small mb-0"),
                    dcc.Dropdown(id=ids["assignee"], options=[], placeholder="A steward"),
                    html.Div(className="mb-1"),
                    button("assign", "Assign", "secondary"),
                    button("comment", "Comment", "primary"),
                    button("resolve", "Resolve", "success"),
                ]
            ),
        ],
        class_name="mb-3",
    )


def action_done(message: str) -> html.Div:
    return html.Div(message, className="alert alert-success py-1 px-2 mb-0")
