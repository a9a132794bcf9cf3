"""The callbacks of the source admin page's access card (sensitivity, active flag, partner
agreement). Loaded with the pages, it is not a page of its own: its card is laid out by
``dashboard/admin/pages/source.py``, which shares its ``params`` store.

Needs ``source:manage`` and the source's owner unit in scope on every call; every value is
parsed again on the server (``source_params.access``) and a change is audited as one
``source.update`` (``models.source_admin.update_access``). Saving tells the ingest edge at
once: from an agreement's expiry on (or with the source inactive) its records are refused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, State

from dashboard.admin import source_params as ap
from dashboard.admin.source_access_form import ACCESS_IDS, agreement_state, expiry_day
from dashboard.admin.source_edge import announce_change
from dashboard.admin.source_forms import SOURCE_IDS, alert
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    error_view,
    guarded_callback,
    read_connection,
    write_session,
)
from dashboard.common import params
from models.permissions import Permission
from models.queries.admin.sources import admin_source
from models.source_admin import update_access

PAGE = "admin-source"
MANAGE = Permission.SOURCE_MANAGE
IDS = ACCESS_IDS


def _view_refused(error: UserFacingError) -> tuple[Any, ...]:
    return (error_view(error), *([dash.no_update] * 4))


@dash.callback(
    Output(IDS["agreement-state"], "children"),
    Output(IDS["sensitivity"], "value"),
    Output(IDS["active"], "value"),
    Output(IDS["agreement-ref"], "value"),
    Output(IDS["agreement-expires"], "value"),
    Input(SOURCE_IDS["params"], "data"),
    Input(IDS["saved"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_view_refused)
def admin_source_access(call: CallContext, page_params: object, _saved: object) -> tuple[Any, ...]:
    """The source's sensitivity, active flag and agreement, and whether it may deliver now."""
    key = ap.source_key(page_params)
    with read_connection() as connection:
        source = admin_source(connection, call.principal, key)
    call.rows = 1
    call.detail = {"source": source.key}
    ref, expires = source.partner_agreement_ref, source.partner_agreement_expires_at
    return (
        agreement_state(ref, expires, source.active, dt.datetime.now(dt.UTC)),
        source.sensitivity.value,
        source.active,
        ref or "",
        expiry_day(expires),
    )


@dash.callback(
    Output(IDS["note"], "children"),
    Output(IDS["saved"], "data"),
    Input(IDS["save"], "n_clicks"),
    State(SOURCE_IDS["params"], "data"),
    State(IDS["sensitivity"], "value"),
    State(IDS["active"], "value"),
    State(IDS["agreement-ref"], "value"),
    State(IDS["agreement-expires"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), dash.no_update)
)
def save_source_access(
    call: CallContext,
    n_clicks: object,
    page_params: object,
    sensitivity: object,
    active: object,
    agreement_ref: object,
    agreement_expires: object,
) -> tuple[Any, ...]:
    """Save the access card (audited as ``source.update`` with before and after)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    key = ap.source_key(page_params)
    wanted = ap.access(sensitivity, active, agreement_ref, agreement_expires)
    with write_session() as session:
        changed = update_access(session, call.principal, key, wanted)
    call.detail = {"source": key, "changed": sorted(changed)}
    if not changed:
        return alert("Nothing changed.", "info"), dash.no_update
    later = announce_change()
    return alert(f"Saved: {', '.join(sorted(changed))}.{later}"), {"n": n_clicks}
