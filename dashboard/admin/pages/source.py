"""A source's admin page: settings (SLA, expected volume, retention, steward), access
(sensitivity, active flag, partner agreement: callbacks in ``source_access``), pull settings
and a test pull (callbacks in ``source_pull``), API keys
(created and shown once, revoked), and new contract versions (checked, diffed and previewed
against recent records before they are saved).

Needs ``source:manage`` and the source's owner unit in scope; the key in the path, every id
and every value are checked again on the server by each callback, and every change is
audited (``models.source_admin``, ``models.source_contract_edit``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from dashboard.admin import source_params as ap
from dashboard.admin.source_access_form import access_card
from dashboard.admin.source_contract import (
    CONTRACT_IDS,
    contract_card,
    current_view,
    preview_view,
    problems_view,
)
from dashboard.admin.source_edge import announce_change
from dashboard.admin.source_forms import (
    ADMIN_SOURCES_PATH,
    SOURCE_IDS,
    alert,
    keys_card,
    keys_table,
    new_key_view,
    options,
    revoke_options,
    settings_form,
    source_head,
)
from dashboard.admin.source_pull_form import pull_card
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
from ingest.contract_preview import preview_contract
from models.contracts import Contract
from models.permissions import AccessDenied, Permission
from models.queries.admin.sources import (
    admin_source,
    contract_history,
    source_keys,
    steward_choices,
)
from models.queries.reference import current_contract
from models.source_admin import create_source_key, revoke_source_key, update_settings
from models.source_contract_edit import (
    ContractTextError,
    contract_text,
    parse_contract_text,
    save_contract_version,
)

dash.register_page(  # type: ignore[no-untyped-call]
    __name__,
    path_template=f"{ADMIN_SOURCES_PATH}/<key>",
    name="Source settings",
    title="Northstar · Source settings",
    permission=Permission.SOURCE_MANAGE.value,
    nav=False,
)

PAGE = "admin-source"
MANAGE = Permission.SOURCE_MANAGE
IDS = SOURCE_IDS


def layout(key: object = None, **_query: Any) -> html.Div:
    """Only the key from the path; the guarded callbacks read and check everything."""
    try:
        current_principal().require(MANAGE)
    except AccessDenied as exc:
        return refusal(f"Not allowed: {exc}.")
    return html.Div(
        [
            dcc.Store(id=IDS["params"], data={"key": key}),
            html.Div(id=IDS["head"]),
            settings_form(),
            access_card(),
            pull_card(),
            keys_card(),
            html.H2("Contract", className="h5"),
            contract_card(),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _head_refused(error: UserFacingError) -> tuple[Any, ...]:
    return (error_view(error), *([dash.no_update] * 5))


@dash.callback(
    Output(IDS["head"], "children"),
    Output(IDS["sla"], "value"),
    Output(IDS["volume"], "value"),
    Output(IDS["retention"], "value"),
    Output(IDS["steward"], "value"),
    Output(IDS["steward"], "options"),
    Input(IDS["params"], "data"),
    Input(IDS["settings-saved"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_head_refused)
def admin_source_view(call: CallContext, page_params: object, _saved: object) -> tuple[Any, ...]:
    """The source named in the path (if managed by the user) and its current settings."""
    key = ap.source_key(page_params)
    with read_connection() as connection:
        source = admin_source(connection, call.principal, key)
        stewards = steward_choices(connection, call.principal, covering=source.owner_path)
    call.rows = 1
    call.detail = {"source": source.key}
    choices = options(stewards)
    if source.steward_id is not None and all(c["value"] != source.steward_id for c in choices):
        # A steward outside today's choices still shows as the current value.
        choices.append({"label": source.steward or "current steward", "value": source.steward_id})
    return (
        source_head(source),
        source.freshness_sla_s,
        source.expected_volume_per_15m,
        source.retention_days,
        source.steward_id,
        choices,
    )


@dash.callback(
    Output(IDS["settings-note"], "children"),
    Output(IDS["settings-saved"], "data"),
    Input(IDS["save-settings"], "n_clicks"),
    State(IDS["params"], "data"),
    State(IDS["sla"], "value"),
    State(IDS["volume"], "value"),
    State(IDS["retention"], "value"),
    State(IDS["steward"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), dash.no_update)
)
def save_source_settings(
    call: CallContext,
    n_clicks: object,
    page_params: object,
    sla: object,
    volume: object,
    retention: object,
    steward: object,
) -> tuple[Any, ...]:
    """Save the settings form (audited as ``source.update`` with before and after)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    key = ap.source_key(page_params)
    wanted = ap.settings(sla, volume, retention, steward)
    with write_session() as session:
        changed = update_settings(session, call.principal, key, wanted)
    call.detail = {"source": key, "changed": sorted(changed)}
    if not changed:
        return alert("Nothing changed.", "info"), dash.no_update
    later = announce_change()
    return alert(f"Saved: {', '.join(sorted(changed))}.{later}"), {"n": n_clicks}


def _keys_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), [], None


@dash.callback(
    Output(IDS["keys"], "children"),
    Output(IDS["revoke-choice"], "options"),
    Output(IDS["revoke-choice"], "value"),
    Input(IDS["params"], "data"),
    Input(IDS["keys-changed"], "data"),
    Input(IDS["keys-revoked"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_keys_refused)
def admin_source_keys(
    call: CallContext, page_params: object, _created: object, _revoked: object
) -> tuple[Any, ...]:
    """The source's keys (prefix, label, state, dates; never a key or its hash)."""
    key = ap.source_key(page_params)
    with read_connection() as connection:
        source = admin_source(connection, call.principal, key)
        keys = source_keys(connection, source)
    call.rows = len(keys)
    call.detail = {"source": source.key}
    now = utc_now()
    return keys_table(keys, now), revoke_options(keys, now), None


@dash.callback(
    Output(IDS["key-created"], "children"),
    Output(IDS["keys-changed"], "data"),
    Input(IDS["create-key"], "n_clicks"),
    State(IDS["params"], "data"),
    State(IDS["key-label"], "value"),
    State(IDS["key-expiry"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), dash.no_update)
)
def create_api_key(
    call: CallContext, n_clicks: object, page_params: object, label: object, expiry: object
) -> tuple[Any, ...]:
    """A new key, shown once in the answer (only its hash is stored; audited)."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    key = ap.source_key(page_params)
    typed, days = ap.key_label(label), ap.expiry_days(expiry)
    with write_session() as session:
        created = create_source_key(session, call.principal, key, typed, days, utc_now())
    announce_change()
    # The prefix names the key in the log; the key itself is never logged.
    call.detail = {"source": key, "prefix": created.prefix}
    return new_key_view(created.plaintext, key), {"created": created.prefix}


@dash.callback(
    Output(IDS["revoke-note"], "children"),
    Output(IDS["keys-revoked"], "data"),
    Input(IDS["confirm-revoke"], "submit_n_clicks"),
    State(IDS["params"], "data"),
    State(IDS["revoke-choice"], "value"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), dash.no_update)
)
def revoke_api_key(
    call: CallContext, submit_n_clicks: object, page_params: object, chosen: object
) -> tuple[Any, ...]:
    """Revoke the chosen key of this source (audited); the ingest API refuses it at once."""
    if not params.clicked(submit_n_clicks):
        return dash.no_update, dash.no_update
    key = ap.source_key(page_params)
    key_id = params.optional_id(chosen, "a key")
    if key_id is None:
        raise ValueError("choose the key to revoke")
    with write_session() as session:
        try:
            prefix = revoke_source_key(session, call.principal, key, key_id)
        except LookupError as exc:
            raise ValueError(str(exc)) from None
    later = announce_change()
    call.detail = {"source": key, "prefix": prefix}
    message = f"Revoked ns_{prefix}_…: the ingest API refuses it from the next request on.{later}"
    return alert(message), {"revoked": prefix}


def _contract_refused(error: UserFacingError) -> tuple[Any, ...]:
    return error_view(error), dash.no_update, None


@dash.callback(
    Output(CONTRACT_IDS["current"], "children"),
    Output(CONTRACT_IDS["editor"], "value"),
    Output(CONTRACT_IDS["base"], "data"),
    Input(IDS["params"], "data"),
    Input(CONTRACT_IDS["saved"], "data"),
)
@guarded_callback(page=PAGE, permission=MANAGE, on_error=_contract_refused)
def admin_source_contract(
    call: CallContext, page_params: object, _saved: object
) -> tuple[Any, ...]:
    """The current contract and its history; the editor starts from the current version."""
    key = ap.source_key(page_params)
    with read_connection() as connection:
        source = admin_source(connection, call.principal, key)
        versions = contract_history(connection, source)
    call.rows = len(versions)
    call.detail = {"source": source.key}
    current: Contract | None = versions[0].contract if versions else None
    base = None if current is None else current.version
    return current_view(versions), contract_text(current), base


def _no_preview(note: Any = None) -> tuple[Any, ...]:
    return note, None, True


@dash.callback(
    Output(CONTRACT_IDS["preview"], "children"),
    Output(CONTRACT_IDS["preview-store"], "data"),
    Output(CONTRACT_IDS["save"], "disabled"),
    Input(CONTRACT_IDS["check"], "n_clicks"),
    Input(CONTRACT_IDS["saved"], "data"),
    State(IDS["params"], "data"),
    State(CONTRACT_IDS["editor"], "value"),
    State(CONTRACT_IDS["base"], "data"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: _no_preview(error_view(error))
)
def check_contract(
    call: CallContext,
    n_clicks: object,
    _saved: object,
    page_params: object,
    text: object,
    base: object,
) -> tuple[Any, ...]:
    """Validate the text as the next version, diff it against the current one and count how
    the newest stored and quarantined records would fare; Save is enabled for this text only.
    """
    if dash.ctx.triggered_id != CONTRACT_IDS["check"] or not params.clicked(n_clicks):
        return _no_preview()
    key, typed, base_version = (
        ap.source_key(page_params),
        ap.contract_text(text),
        ap.base_version(base),
    )
    limit = current_services().settings.admin_preview_records
    with read_connection() as connection:
        source = admin_source(connection, call.principal, key)
        current = current_contract(connection, source.id)
        if (None if current is None else current.version) != base_version:
            raise ValueError("another contract version was saved meanwhile: reload the page")
        try:
            proposed = parse_contract_text(typed, (base_version or 0) + 1)
        except ContractTextError as exc:
            call.detail = {"source": key, "valid": False}
            return _no_preview(problems_view(exc.problems))
        preview = preview_contract(connection, source.id, source.key, proposed, limit=limit)
    call.rows = preview.events.checked + preview.quarantine.checked
    call.detail = {"source": key, "valid": True, "version": proposed.version}
    remembered = {"source": key, "base": base_version, "digest": ap.digest(typed)}
    return preview_view(current, proposed, preview, limit), remembered, False


@dash.callback(
    Output(CONTRACT_IDS["save-note"], "children"),
    Output(CONTRACT_IDS["saved"], "data"),
    Input(CONTRACT_IDS["save"], "n_clicks"),
    State(IDS["params"], "data"),
    State(CONTRACT_IDS["editor"], "value"),
    State(CONTRACT_IDS["note"], "value"),
    State(CONTRACT_IDS["base"], "data"),
    State(CONTRACT_IDS["preview-store"], "data"),
    prevent_initial_call=True,
)
@guarded_callback(
    page=PAGE, permission=MANAGE, on_error=lambda error: (error_view(error), dash.no_update)
)
def save_contract(
    call: CallContext,
    n_clicks: object,
    page_params: object,
    text: object,
    note: object,
    base: object,
    previewed: object,
) -> tuple[Any, ...]:
    """Save the text just previewed as the next version (audited), then tell the edge."""
    if not params.clicked(n_clicks):
        return dash.no_update, dash.no_update
    key, typed, base_version = (
        ap.source_key(page_params),
        ap.contract_text(text),
        ap.base_version(base),
    )
    expected = {"source": key, "base": base_version, "digest": ap.digest(typed)}
    if previewed != expected:
        raise ValueError("check and preview the contract first: the text changed since")
    try:
        proposed = parse_contract_text(typed, (base_version or 0) + 1)
    except ContractTextError:
        raise ValueError("the contract is not valid: check it again") from None
    with write_session() as session:
        saved = save_contract_version(
            session, call.principal, key, proposed, ap.note(note), base_version=base_version
        )
    later = announce_change()
    call.detail = {"source": key, "version": saved.version}
    message = (
        f"Saved version {saved.version}. The ingest API checks records against it from the "
        f"next request on.{later}"
    )
    return alert(message), {"version": saved.version}
