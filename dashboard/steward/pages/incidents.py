"""The incident queue (steward console): every incident in scope, filtered by state, severity,
source, owner and assignee, each linking to its incident page.

Seeing incidents needs ``incident:manage`` (docs/quality.md, "Steward console"): the queue
names owners, assignees and what went wrong with each source, which is for stewards.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, html

from dashboard.auth.policy import (
    CallContext,
    current_principal,
    error_view,
    guarded_callback,
    read_connection,
)
from dashboard.common import params
from dashboard.common.look import INCIDENTS_PATH, refusal
from dashboard.steward.queue import UNRESOLVED, filters, queue_table
from models.permissions import AccessDenied, Permission
from models.quality.tables import IncidentStatus, Severity
from models.queries.steward.console import incident_people, incident_sources
from models.queries.steward.incidents import IncidentFilter, list_incidents
from models.queries.steward.lineage import kpis_by_source

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=INCIDENTS_PATH,
    name="Incidents",
    title="Northstar · Incidents",
    permission=Permission.INCIDENT_MANAGE.value,
    nav_group="Steward",
    order=10,
)

PAGE = "steward-incidents"
IDS = {
    "state": "queue-state",
    "severity": "queue-severity",
    "source": "queue-source",
    "owner": "queue-owner",
    "assignee": "queue-assignee",
}
TABLE_ID = "queue-table"
LIMIT = 200


def layout(state: object = None, source: object = None, **_query: Any) -> html.Div:
    """Filters (only sources and people of the user's scope) and the table the callback fills.

    ``?state=<state>`` (or ``all``) and ``?source=<source key>`` preselect a filter when they
    name one of the options; anything else is ignored.
    """
    try:
        principal = current_principal()
        principal.require(Permission.INCIDENT_MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    with read_connection() as connection:
        sources = incident_sources(connection, principal)
        people = incident_people(connection, principal)
    chosen = params.option(state, [*(s.value for s in IncidentStatus), "all"], "")
    states = UNRESOLVED if not chosen else [] if chosen == "all" else [IncidentStatus(chosen)]
    source_id = next((s.id for s in sources if s.key == source), None)
    return html.Div(
        [
            html.H1("Incidents", className="h3"),
            filters(IDS, sources, people, states=states, source_id=source_id),
            dash.dcc.Loading(html.Div(id=TABLE_ID), type="dot", delay_show=300),
        ]
    )


@dash.callback(
    Output(TABLE_ID, "children"),
    Input(IDS["state"], "value"),
    Input(IDS["severity"], "value"),
    Input(IDS["source"], "value"),
    Input(IDS["owner"], "value"),
    Input(IDS["assignee"], "value"),
)
@guarded_callback(page=PAGE, permission=Permission.INCIDENT_MANAGE, on_error=error_view)
def incident_queue(
    call: CallContext,
    /,
    states: object,
    severities: object,
    source: object,
    owner: object,
    assignee: object,
) -> html.Div:
    """The incidents in scope matching the filters (all untrusted browser input)."""
    source_id = params.optional_id(source, "a source")
    chosen = IncidentFilter(
        statuses=params.choices(states, IncidentStatus, "state"),
        severities=params.choices(severities, Severity, "severity"),
        source_ids=None if source_id is None else [source_id],
        owner_user_id=params.optional_id(owner, "an owner"),
        assignee_id=params.optional_id(assignee, "an assignee"),
    )
    with read_connection() as connection:
        incidents = list_incidents(connection, call.principal, chosen, limit=LIMIT)
        kpis = kpis_by_source(connection, {i.source_id for i in incidents})
    call.rows = len(incidents)
    call.detail = {
        "states": [s.value for s in chosen.statuses or ()],
        "severities": [s.value for s in chosen.severities or ()],
        "source": source_id,
    }
    names = {k.key: k.name for refs in kpis.values() for k in refs}
    return queue_table(incidents, names, limit=LIMIT)
