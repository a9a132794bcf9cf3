"""An incident (steward console): header, timeline, evidence chart, affected KPIs and actions.

The incident number comes from the URL, so it is untrusted: every callback re-checks it with
the user's scope. Each action (acknowledge, assign, comment, resolve) is its own guarded
callback running ``models.quality.actions`` in its own committed transaction; a refused action
changes nothing, and the audit row is written by the action itself, so only on success.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import dash
from dash import Input, Output, State, dcc, html
from sqlalchemy.orm import Session

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
from dashboard.common.look import INCIDENTS_PATH, refusal
from dashboard.steward.figures import evidence_figure
from dashboard.steward.incident import (
    action_done,
    action_panel,
    affected_kpis,
    assignee_options,
    incident_header,
    timeline,
)
from models.permissions import AccessDenied, Permission, Principal
from models.quality import actions
from models.queries.steward.console import assignable_users
from models.queries.steward.incidents import (
    IncidentView,
    get_incident,
    incident_evidence,
    incident_timeline,
)
from models.queries.steward.lineage import kpis_by_source, sources_by_kpi
from models.queries.steward.quality import kpi_badges

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path_template=f"{INCIDENTS_PATH}/<incident_id>",
    name="Incident",
    title="Northstar · Incident",
    nav=False,
    permission=Permission.INCIDENT_MANAGE.value,
)

PAGE = "steward-incident"
INCIDENT_ID = "incident-id"
HEADER_ID = "incident-header"
TIMELINE_ID = "incident-timeline"
EVIDENCE_ID = "incident-evidence"
KPIS_ID = "incident-kpis"
PANEL_ID = "incident-panel"
ACTIONS = ("acknowledge", "assign", "comment", "resolve")
IDS = {
    "note": "incident-note",
    "assignee": "incident-assignee",
    **{action: f"incident-{action}" for action in ACTIONS},
    **{f"{action}-result": f"incident-{action}-result" for action in ACTIONS},
}
DONE = {action: f"incident-{action}-done" for action in ACTIONS}
"""A store per action, changed after it succeeded: the page then re-reads the incident."""
EMPTY_FIGURE: dict[str, Any] = {"data": [], "layout": {}}


def layout(incident_id: str | None = None, **_query: Any) -> html.Div:
    """The page's frame; the callbacks check the incident number and fill it in."""
    try:
        current_principal().require(Permission.INCIDENT_MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return html.Div(
        [
            dcc.Store(id=INCIDENT_ID, data=incident_id),
            *(dcc.Store(id=store) for store in DONE.values()),
            dcc.Link("← Incidents", href=INCIDENTS_PATH, className="small"),
            html.Div(id=HEADER_ID, className="mb-3"),
            html.Div(
                [
                    html.Div(
                        [
                            dcc.Graph(
                                id=EVIDENCE_ID, figure=EMPTY_FIGURE, config={"displaylogo": False}
                            ),
                            html.H2("Timeline", className="h5"),
                            html.Div(id=TIMELINE_ID),
                        ],
                        className="col-lg-8",
                    ),
                    html.Div(
                        [
                            html.Div(action_panel(IDS), id=PANEL_ID),
                            html.H2("Affected KPIs", className="h5"),
                            html.Div(id=KPIS_ID),
                        ],
                        className="col-lg-4",
                    ),
                ],
                className="row",
            ),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _detail_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), None, EMPTY_FIGURE, None, [], True


@dash.callback(
    Output(HEADER_ID, "children"),
    Output(TIMELINE_ID, "children"),
    Output(EVIDENCE_ID, "figure"),
    Output(KPIS_ID, "children"),
    Output(IDS["assignee"], "options"),
    Output(PANEL_ID, "hidden"),
    Input(INCIDENT_ID, "data"),
    *(Input(store, "data") for store in DONE.values()),
)
@guarded_callback(page=PAGE, permission=Permission.INCIDENT_MANAGE, on_error=_detail_refused)
def incident_detail(call: CallContext, /, incident: object, *_done: object) -> tuple[Any, ...]:
    """The incident in scope named by ``incident`` (untrusted), read again after each action."""
    incident_id = params.record_id(incident, "an incident")
    now = utc_now()
    with read_connection() as connection:
        view = get_incident(connection, call.principal, incident_id)
        steps = incident_timeline(connection, call.principal, incident_id)
        evidence = incident_evidence(connection, call.principal, incident_id)
        people = assignable_users(connection, call.principal, incident_id)
        names = {
            k.key: k.name
            for k in kpis_by_source(connection, [view.source_id]).get(view.source_id, ())
        }
        badges = kpi_badges(connection, sources_by_kpi(connection, view.affected_kpis), now)
    call.rows = 1 + len(steps) + len(evidence)
    call.detail = {"incident": incident_id}
    figure = evidence_figure(
        view.check,
        evidence,
        title=f"{view.check_name} on {view.source_name}",
        opened_at=view.opened_at,
        resolved_at=view.resolved_at,
    )
    return (
        incident_header(view),
        timeline(steps),
        figure,
        affected_kpis(view.affected_kpis, names, badges),
        assignee_options(people),
        False,
    )


Act = Callable[[Session, Principal, int], IncidentView]


def _act(
    call: CallContext,
    act: Act,
    n_clicks: object,
    incident: object,
    done: Callable[[IncidentView], str],
) -> tuple[Any, Any]:
    """Check the incident is in scope; if the button was clicked, run ``act`` in its own
    transaction (committed, or rolled back on any refusal) and say what happened."""
    incident_id = params.record_id(incident, "an incident")
    call.detail = {"incident": incident_id}
    if not params.clicked(n_clicks):
        with read_connection() as connection:
            get_incident(connection, call.principal, incident_id)
        return dash.no_update, dash.no_update
    with write_session() as session:
        view = act(session, call.principal, incident_id)
    call.rows = 1
    call.detail["status"] = view.status.value
    return action_done(done(view)), utc_now().isoformat()


def _action_refused(error: UserFacingError) -> tuple[Any, Any]:
    return error_view(error), dash.no_update


def _action(action: str, *states: State) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the guarded callback of ``action``'s button."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        guarded = guarded_callback(
            page=PAGE, permission=Permission.INCIDENT_MANAGE, on_error=_action_refused
        )(fn)
        return dash.callback(
            Output(IDS[f"{action}-result"], "children"),
            Output(DONE[action], "data"),
            Input(IDS[action], "n_clicks"),
            State(INCIDENT_ID, "data"),
            *states,
            prevent_initial_call=True,
        )(guarded)

    return register


NoteAct = Callable[[Session, Principal, int, str], IncidentView]


def _with_note(
    call: CallContext, act: NoteAct, n_clicks: object, incident: object, note: object, done: str
) -> tuple[Any, Any]:
    """:func:`_act` for the actions that take the note field and nothing else."""
    text = params.note(note)
    return _act(call, lambda s, p, i: act(s, p, i, text), n_clicks, incident, lambda _v: done)


@_action("acknowledge", State(IDS["note"], "value"))
def acknowledge_incident(
    call: CallContext, n_clicks: object, incident: object, note: object
) -> tuple[Any, Any]:
    """Acknowledge (with an optional note): the incident stops escalating."""
    done = "Acknowledged: it no longer escalates."
    return _with_note(call, actions.acknowledge, n_clicks, incident, note, done)


@_action("assign", State(IDS["assignee"], "value"), State(IDS["note"], "value"))
def assign_incident(
    call: CallContext, n_clicks: object, incident: object, assignee: object, note: object
) -> tuple[Any, Any]:
    """Assign to someone who may manage the incident (the action checks who)."""
    text = params.note(note)
    user_id = params.optional_id(assignee, "an assignee")

    def assign(session: Session, principal: Principal, incident_id: int) -> IncidentView:
        if user_id is None:
            raise ValueError("choose whom to assign the incident to")
        return actions.assign(session, principal, incident_id, user_id, text)

    return _act(
        call,
        assign,
        n_clicks,
        incident,
        lambda view: f"Assigned to {view.assignee.name if view.assignee else 'nobody'}.",
    )


@_action("comment", State(IDS["note"], "value"))
def comment_incident(
    call: CallContext, n_clicks: object, incident: object, note: object
) -> tuple[Any, Any]:
    """Add the note to the timeline (resolved incidents too)."""
    return _with_note(call, actions.comment, n_clicks, incident, note, "Comment added.")


@_action("resolve", State(IDS["note"], "value"))
def resolve_incident(
    call: CallContext, n_clicks: object, incident: object, note: object
) -> tuple[Any, Any]:
    """Resolve, with the note saying what was done (required)."""
    return _with_note(call, actions.resolve, n_clicks, incident, note, "Resolved.")
