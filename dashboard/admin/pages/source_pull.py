"""The callbacks of the source admin page's pull card (kind, target, query, interval, test
pull). Loaded with the pages, it is not a page of its own: its card is laid out by
``dashboard/admin/pages/source.py``, which shares its ``params`` store.

Needs ``source:manage`` and the source's owner unit in scope on every call; every value is
parsed again on the server (``source_params.pull``); a change is audited as one
``source.update`` with the target's password masked (``models.source_pull_admin``). A test
pull fetches once with the saved settings and checks the records, storing nothing
(``ingest.pull_trial``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, State

from dashboard.admin import source_params as ap
from dashboard.admin.source_edge import announce_change
from dashboard.admin.source_forms import SOURCE_IDS, alert
from dashboard.admin.source_pull_form import PULL_IDS, trial_view
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_services,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common import params
from ingest.pull_trial import TrialRefused, trial_pull
from models.catalog_file.source_entry import masked
from models.permissions import Permission
from models.queries.admin.sources import admin_source
from models.source_pull_admin import update_pull

PAGE = "admin-source"
MANAGE = Permission.SOURCE_MANAGE
IDS = PULL_IDS


def _view_refused(error: UserFacingError) -> tuple[Any, ...]:
    return (error_view(error), *([dash.no_update] * 4))


_SHOWN = [("kind", "value"), ("target", "value"), ("query", "value"), ("interval", "value")]


@dash.callback(
    Output(IDS["view-note"], "children"),
    *(Output(IDS[name], prop) for name, prop in _SHOWN),
    Input(SOURCE_IDS["params"], "data"),
    Input(IDS["saved"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_view_refused)
def admin_source_pull(call: CallContext, page_params: object, _saved: object) -> tuple[Any, ...]:
    """The source's pull settings, the target's password masked."""
    key = ap.source_key(page_params)
    with read_connection() as connection:
        source = admin_source(connection, call.principal, key)
    call.rows = 1
    call.detail = {"source": source.key}
    kind = source.pull_kind.value if source.pull_kind is not None else ap.NO_PULL
    return (None, kind, masked(source.pull_target) or "", source.pull_query or "",
            source.pull_interval_s)  # fmt: skip


@dash.callback(
    Output(IDS["note"], "children"),
    Output(IDS["saved"], "data"),
    Input(IDS["save"], "n_clicks"),
    State(SOURCE_IDS["params"], "data"),
    State(IDS["kind"], "value"),
    State(IDS["target"], "value"),
    State(IDS["query"], "value"),
    State(IDS["interval"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), dash.no_update)
)
def save_source_pull(
    call: CallContext,
    n_clicks: object,
    page_params: object,
    kind: object,
    target: object,
    query: object,
    interval: object,
) -> tuple[Any, ...]:
    """Save the pull card (audited as ``source.update``, targets masked)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    key = ap.source_key(page_params)
    wanted = ap.pull(kind, target, query, interval)
    with write_session() as session:
        changed = update_pull(session, call.principal, key, wanted)
    call.detail = {"source": key, "changed": sorted(changed)}
    if not changed:
        return alert("Nothing changed.", "info"), dash.no_update
    later = announce_change()
    return alert(f"Saved: {', '.join(sorted(changed))}.{later}"), {"n": n_clicks}


@dash.callback(
    Output(IDS["tested"], "children"),
    Input(IDS["test"], "n_clicks"),
    State(SOURCE_IDS["params"], "data"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=error_view)
def test_source_pull(call: CallContext, n_clicks: object, page_params: object) -> Any:
    """Fetch once with the saved settings and check the records; nothing is stored."""
    if not params.clicked(n_clicks):
        return dash.no_update
    key = ap.source_key(page_params)
    with read_connection() as connection:
        source = admin_source(connection, call.principal, key)
    call.detail = {"source": key}
    try:
        found = trial_pull(current_services(), source.id, dt.datetime.now(dt.UTC))
    except TrialRefused as exc:
        return alert(f"Test pull refused: {exc}", "warning")
    call.rows = found.fetched
    return trial_view(found.fetched, found.accepted, found.rejected, found.problems)
