"""The incident queue: its filters and its table (pure: data in, components out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import (
    STATUS_LOOK,
    incident_href,
    kpi_page_href,
    severity_badge,
    status_badge,
    when,
)
from dashboard.steward.quarantine_layout import source_href
from models.quality.tables import IncidentStatus, Severity
from models.queries.steward.console import SourceRef
from models.queries.steward.incidents import IncidentView, Person

UNRESOLVED = [IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RECOVERED]
"""The queue's default: what still needs a steward."""
COLUMNS = (
    "Severity",
    "Incident",
    "Source",
    "Check",
    "State",
    "Opened",
    "Last seen",
    "Owner",
    "Affected KPIs",
)


def _filter(label: str, control_id: str, control: dcc.Dropdown, width: int = 2) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control], xs=12, md=width
    )


def filters(
    ids: Mapping[str, str],
    sources: Sequence[SourceRef],
    people: Sequence[Person],
    *,
    states: Sequence[IncidentStatus] = UNRESOLVED,
    source_id: int | None = None,
) -> dbc.Row:
    """The filter row; ``ids`` names the component of each filter (state, severity, source,
    owner, assignee)."""
    person_options = [{"label": p.name, "value": p.id} for p in people]
    return dbc.Row(
        [
            _filter(
                "State",
                ids["state"],
                dcc.Dropdown(
                    id=ids["state"],
                    options=[{"label": STATUS_LOOK[s][1], "value": s.value} for s in STATUS_LOOK],
                    value=[s.value for s in states],
                    multi=True,
                    placeholder="Any state",
                ),
                3,
            ),
            _filter(
                "Severity",
                ids["severity"],
                dcc.Dropdown(
                    id=ids["severity"],
                    options=[{"label": s.value.title(), "value": s.value} for s in Severity],
                    value=[],
                    multi=True,
                    placeholder="Any severity",
                ),
            ),
            _filter(
                "Source",
                ids["source"],
                dcc.Dropdown(
                    id=ids["source"],
                    options=[{"label": s.name, "value": s.id} for s in sources],
                    value=source_id,
                    placeholder="Any source",
                ),
            ),
            _filter(
                "Owner (steward)",
                ids["owner"],
                dcc.Dropdown(id=ids["owner"], options=person_options, placeholder="Anyone"),
            ),
            _filter(
                "Assigned to",
                ids["assignee"],
                dcc.Dropdown(id=ids["assignee"], options=person_options, placeholder="Anyone"),
                3,
            ),
        ],
        class_name="g-2 mb-3",
    )


def owner_text(incident: IncidentView) -> str:
    """Who has the incident: its assignee, else the source's steward, else the unit's."""
    if incident.assignee is not None:
        return f"{incident.assignee.name} (assigned)"
    if incident.owner is not None:
        return incident.owner.name
    return f"Stewards of {incident.owner_unit_name}"


def kpi_links(keys: Sequence[str], names: Mapping[str, str]) -> list[html.Span]:
    """Links to the KPI pages of ``keys``, by name where known, comma separated."""
    links: list[html.Span] = []
    for n, key in enumerate(keys):
        prefix = ", " if n else ""
        links.append(html.Span([prefix, dcc.Link(names.get(key, key), href=kpi_page_href(key))]))
    return links


def _row(incident: IncidentView, kpi_names: Mapping[str, str]) -> html.Tr:
    return html.Tr(
        [
            html.Td(severity_badge(incident.severity)),
            html.Td(dcc.Link(f"#{incident.id} {incident.title}", href=incident_href(incident.id))),
            html.Td(dcc.Link(incident.source_name, href=source_href(incident.source_key))),
            html.Td(incident.check_name),
            html.Td(status_badge(incident.status)),
            html.Td(when(incident.opened_at), className="text-nowrap"),
            html.Td(when(incident.last_seen_at), className="text-nowrap"),
            html.Td(owner_text(incident)),
            html.Td(kpi_links(incident.affected_kpis, kpi_names) or "—"),
        ]
    )


def queue_table(
    incidents: Sequence[IncidentView], kpi_names: Mapping[str, str], *, limit: int
) -> html.Div:
    """The incidents as a table (unresolved first, critical first, newest first), with a line
    saying how many are shown."""
    if not incidents:
        return html.Div(
            html.P("No incidents match these filters.", className="text-muted"),
            className="queue-empty",
        )
    shown = f"{len(incidents)} incident{'s' if len(incidents) != 1 else ''}"
    if len(incidents) >= limit:
        shown = f"The first {limit} incidents; narrow the filters to see others"
    table = dbc.Table(
        [
            html.Thead(html.Tr([html.Th(c, scope="col") for c in COLUMNS])),
            html.Tbody([_row(i, kpi_names) for i in incidents]),
        ],
        hover=True,
        responsive=True,
        size="sm",
        class_name="align-middle",
    )
    return html.Div([html.P(shown, className="text-secondary small mb-1"), table])
