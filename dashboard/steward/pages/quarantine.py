"""The quarantine browser (steward console): rejected records of the sources in scope, filtered
and paged on the server, payloads masked as events are; replay after a contract fix (a dry-run
preview first) and discard with a reason.

Viewing and acting both need ``quarantine:manage`` (docs/quality.md, "Quarantine browser"):
payloads are raw producer input, and every action is checked again on the server and audited.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, html

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
from dashboard.common import params
from dashboard.common.look import refusal
from dashboard.steward import quarantine_params as qp
from dashboard.steward.quarantine_layout import (
    IDS,
    PAGE_SIZE,
    QUARANTINE_PATH,
    actions_card,
    alert,
    filter_bar,
    grid_rows,
    page_count,
    record_detail,
    record_grid,
    record_panel,
    rule_options,
    source_options,
    summary,
)
from dashboard.steward.quarantine_replay import (
    UI_REPLAY_MAX,
    preview_text,
    replay_text,
    run_replay,
)
from ingest.streams import Backpressure
from models.permissions import AccessDenied, Permission, Principal
from models.quarantine_actions import discard_matching, discard_selected
from models.queries.steward.quarantine_view import (
    QuarantineSource,
    current_contracts,
    open_count,
    quarantine_page,
    quarantine_record,
    quarantine_sources,
    rules_in_use,
    source_in_scope,
)

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path=QUARANTINE_PATH,
    name="Quarantine",
    title="Northstar · Quarantine",
    permission=Permission.QUARANTINE_MANAGE.value,
    nav_group="Steward",
    order=30,
)

PAGE = "steward-quarantine"
MANAGE = Permission.QUARANTINE_MANAGE
FILTER_IDS = {IDS[k] for k in ("source", "match", "status", "dates")}


def layout(source: object = None, match: object = None, **_query: Any) -> html.Div:
    """Filters (only sources in scope), actions, the grid the callbacks fill, one record.

    ``?source=<source key>`` and ``?match=<rule or text>`` preselect the filters when valid.
    """
    try:
        principal = current_principal()
        principal.require(MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    with read_connection() as connection:
        sources = quarantine_sources(connection, principal)
        rules = rules_in_use(connection, principal, [s.id for s in sources])
    try:
        preset = qp.match_text(match)
    except ValueError:
        preset = None
    return html.Div(
        [
            html.H1("Quarantine", className="h3"),
            html.P(
                "Records rejected at the edge or by the workers, kept until replayed or "
                "discarded. Personal and confidential fields are masked as on the events page.",
                className="text-muted small",
            ),
            filter_bar(
                sources,
                rules,
                source_id=next((s.id for s in sources if s.key == source), None),
                match=preset,
            ),
            actions_card(),
            html.Div(id=IDS["summary"], className="small mb-2"),
            record_grid(),
            dbc.Pagination(
                id=IDS["pages"],
                max_value=1,
                active_page=1,
                first_last=True,
                previous_next=True,
                fully_expanded=False,
                class_name="mt-2",
            ),
            record_panel(),
        ]
    )


def _list_refused(error: UserFacingError) -> tuple[Any, ...]:
    return [], error_view(error), 1, dash.no_update, "Discard all matching"


@dash.callback(
    Output(IDS["grid"], "rowData"),
    Output(IDS["summary"], "children"),
    Output(IDS["pages"], "max_value"),
    Output(IDS["pages"], "active_page"),
    Output(IDS["discard_matching"], "children"),
    Input(IDS["source"], "value"),
    Input(IDS["match"], "value"),
    Input(IDS["status"], "value"),
    Input(IDS["dates"], "start_date"),
    Input(IDS["dates"], "end_date"),
    Input(IDS["pages"], "active_page"),
    Input(IDS["replayed"], "data"),
    Input(IDS["discarded"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_list_refused)
def quarantine_list(
    call: CallContext,
    source: object,
    match: object,
    status: object,
    start: object,
    end: object,
    active_page: object,
    _replayed: object,
    _discarded: object,
) -> tuple[Any, ...]:
    """One page of the records in scope matching the filters (all untrusted input)."""
    chosen = qp.quarantine_filter(source, match, status, start, end)
    page = 1 if dash.ctx.triggered_id in FILTER_IDS else qp.page_number(active_page)
    row_limit = current_services().settings.query_row_limit
    with read_connection() as connection:
        found = quarantine_page(
            connection,
            call.principal,
            chosen,
            offset=(page - 1) * PAGE_SIZE,
            page_size=PAGE_SIZE,
            row_limit=row_limit,
        )
    call.rows = len(found.items)
    # Which filters were used, never the text typed (it may quote a value).
    call.detail = {
        "source": chosen.source_id,
        "match": chosen.match is not None,
        "statuses": [s.value for s in chosen.statuses],
        "page": page,
    }
    statuses = status if isinstance(status, str) and status in qp.STATUS_CHOICES else "open"
    label = (
        f"Discard all {found.total:,}{'+' if found.capped else ''} matching"
        if statuses == "open"
        else "Discard all open matching"
    )
    return grid_rows(found.items), summary(found, statuses), page_count(found), page, label


@dash.callback(
    Output(IDS["source"], "options"),
    Output(IDS["rules"], "children"),
    Input(IDS["replayed"], "data"),
    Input(IDS["discarded"], "data"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda _error: (dash.no_update, dash.no_update)
)
def quarantine_choices(call: CallContext, _replayed: object, _discarded: object) -> tuple[Any, ...]:
    """The source choices' open counts and the rules in use, read again after a replay or a
    discard changed them (the list shows any refusal for the same inputs)."""
    with read_connection() as connection:
        sources = quarantine_sources(connection, call.principal)
        rules = rules_in_use(connection, call.principal, [s.id for s in sources])
    call.rows = len(sources)
    return source_options(sources), rule_options(rules)


@dash.callback(
    Output(IDS["record"], "children"),
    Output(IDS["record_panel"], "is_open"),
    Input(IDS["grid"], "cellClicked"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), True))
def quarantine_record_view(call: CallContext, cell: object) -> tuple[Any, ...]:
    """The clicked record, read again from the database (scope and masking re-applied)."""
    record_id = qp.clicked_record(cell)
    if record_id is None:
        return dash.no_update, dash.no_update
    with read_connection() as connection:
        item = quarantine_record(connection, call.principal, record_id)
    call.rows = 1
    call.detail = {"record": record_id}
    return record_detail(item), True


def _replay_target(
    principal: Principal, source: object, match: object
) -> tuple[QuarantineSource, str | None, int | None]:
    """The source to replay (in scope, active), the match, and its current contract version.

    Raises:
        ValueError or AccessDenied with a message for the steward.
    """
    source_id = params.optional_id(source, "a source")
    if source_id is None:
        raise ValueError("choose the source to replay")
    chosen = qp.match_text(match)
    with read_connection() as connection:
        target = source_in_scope(connection, principal, source_id)
        if chosen is not None and principal.mask_level != "pii":
            # Free text would match reasons this user may not read: rules only.
            rules = {rule for rule, _ in rules_in_use(connection, principal, [source_id])}
            if chosen not in rules:
                raise AccessDenied("replaying by reason text needs pii:view; choose a rule")
        examined = open_count(connection, source_id, chosen, UI_REPLAY_MAX)
        contract = current_contracts(connection, [source_id]).get(source_id)
    if not target.active:
        raise ValueError("the source is inactive; it must be active to take records again")
    if examined > UI_REPLAY_MAX:
        raise ValueError(
            f"more than {UI_REPLAY_MAX:,} open records match; replay them with "
            f"`northstar quarantine replay --source {target.key}`"
        )
    return target, chosen, None if contract is None else contract.version


def _action_refused(error: UserFacingError) -> tuple[Any, ...]:
    """A refused replay or discard: the reason under its button, the page left as it is."""
    return error_view(error), dash.no_update


def _no_preview(note: Any = "") -> tuple[Any, ...]:
    return None, note, True, "Replay"


@dash.callback(
    Output(IDS["preview_store"], "data"),
    Output(IDS["preview_note"], "children"),
    Output(IDS["replay"], "disabled"),
    Output(IDS["replay"], "children"),
    Input(IDS["preview"], "n_clicks"),
    Input(IDS["source"], "value"),
    Input(IDS["match"], "value"),
    Input(IDS["replayed"], "data"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: _no_preview(error_view(error))
)
def preview_replay(
    call: CallContext, n_clicks: object, source: object, match: object, _replayed: object
) -> tuple[Any, ...]:
    """A dry run of the replay: how many records would now pass and how many still fail.

    Any change of source or text (or a replay) drops the preview: Replay is enabled only
    for the selection just previewed.
    """
    if dash.ctx.triggered_id != IDS["preview"] or not params.clicked(n_clicks):
        return _no_preview()
    target, chosen, _version = _replay_target(call.principal, source, match)
    report = _replay(call.principal, target, chosen, dry_run=True)
    call.rows = report.examined
    call.detail = {"source": target.key, "match": chosen is not None, "dry_run": True}
    if report.examined == 0:
        return _no_preview(alert("No open record of this source matches.", "info"))
    preview = {
        "source": target.id,
        "match": chosen,
        "version": report.contract_version,
    }
    button = f"Replay {report.examined:,} record{'s' if report.examined != 1 else ''}"
    return preview, alert(preview_text(report, target.name), "info"), report.replayed == 0, button


def _replay(
    principal: Principal, target: QuarantineSource, match: str | None, *, dry_run: bool
) -> Any:
    try:
        return run_replay(principal, target.key, match, dry_run=dry_run)
    except LookupError:
        raise ValueError("the source has no contract to validate against") from None


@dash.callback(
    Output(IDS["replay_note"], "children"),
    Output(IDS["replayed"], "data"),
    Input(IDS["replay"], "n_clicks"),
    State(IDS["source"], "value"),
    State(IDS["match"], "value"),
    State(IDS["preview_store"], "data"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_action_refused)
def replay_records(
    call: CallContext, n_clicks: object, source: object, match: object, preview: object
) -> tuple[Any, ...]:
    """Replay what was just previewed, if the source, text and contract are still the same."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    target, chosen, version = _replay_target(call.principal, source, match)
    expected = {"source": target.id, "match": chosen, "version": version}
    if not isinstance(preview, dict) or preview != expected:
        raise ValueError("preview the replay first: the selection or the contract changed")
    call.detail = {"source": target.key, "match": chosen is not None, "dry_run": False}
    try:
        report = _replay(call.principal, target, chosen, dry_run=False)
    except Backpressure as exc:
        message = (
            f"The ingest streams are full; nothing was replayed. Retry in {exc.retry_after} s."
        )
        return alert(message, "warning"), dash.no_update
    call.rows = report.examined
    call.detail["replayed"] = report.replayed
    return alert(replay_text(report, target.name)), {"batches": report.batch_ids, "n": n_clicks}


@dash.callback(
    Output(IDS["discard_note"], "children"),
    Output(IDS["discarded"], "data"),
    Input(IDS["confirm_selected"], "submit_n_clicks"),
    Input(IDS["confirm_matching"], "submit_n_clicks"),
    State(IDS["grid"], "selectedRows"),
    State(IDS["reason"], "value"),
    State(IDS["source"], "value"),
    State(IDS["match"], "value"),
    State(IDS["status"], "value"),
    State(IDS["dates"], "start_date"),
    State(IDS["dates"], "end_date"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_action_refused)
def discard_records(
    call: CallContext,
    selected_clicks: object,
    matching_clicks: object,
    selected: object,
    reason: object,
    source: object,
    match: object,
    status: object,
    start: object,
    end: object,
) -> tuple[Any, ...]:
    """Discard the ticked records, or every open record matching the filters (bounded)."""
    trigger = dash.ctx.triggered_id
    if trigger == IDS["confirm_selected"] and params.clicked(selected_clicks):
        ids = qp.selected_ids(selected)
        typed = qp.reason(reason)
        with write_session() as session:
            report = discard_selected(session, call.principal, ids, typed)
        call.detail = {"chosen": "selected", "records": len(ids)}
    elif trigger == IDS["confirm_matching"] and params.clicked(matching_clicks):
        chosen = qp.quarantine_filter(source, match, status, start, end)
        typed = qp.reason(reason)
        with write_session() as session:
            report = discard_matching(session, call.principal, chosen, typed)
        call.detail = {"chosen": "filter", "source": chosen.source_id}
    else:
        return dash.no_update, dash.no_update
    call.rows = report.discarded
    sources = ", ".join(f"{key} {n:,}" for key, n in report.by_source.items())
    text = f"Discarded {report.discarded:,} record{'s' if report.discarded != 1 else ''}"
    text += f" ({sources})." if sources else "."
    if report.skipped:
        text += f" {report.skipped:,} were no longer open and were left as they are."
    return alert(text), {"discarded": report.discarded, "at": [selected_clicks, matching_clicks]}
