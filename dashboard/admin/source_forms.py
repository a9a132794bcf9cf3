"""The admin source pages' parts: the sources list, the new-source form, a source's settings
form and its API keys (pure builders; the contract editor is in ``admin_source_contract``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import when
from models.enums import Classification, RefreshMode
from models.quality.windows import duration_text
from models.queries.admin.sources import AdminSource, AdminSourceRow, Choice, KeyRow

ADMIN_SOURCES_PATH = "/admin/sources"
LIST_IDS = {
    name: f"admin-sources-{name}"
    for name in (
        "list",
        "created",
        "key",
        "name",
        "owner",
        "steward",
        "refresh",
        "sla",
        "volume",
        "retention",
        "sensitivity",
        "description",
        "create",
        "create-note",
    )
}
SOURCE_IDS = {
    name: f"admin-source-{name}"
    for name in (
        "params",
        "head",
        "sla",
        "volume",
        "retention",
        "steward",
        "save-settings",
        "settings-note",
        "settings-saved",
        "keys",
        "key-label",
        "key-expiry",
        "create-key",
        "key-created",
        "keys-changed",
        "keys-revoked",
        "revoke-choice",
        "revoke",
        "confirm-revoke",
        "revoke-note",
    )
}
REFRESH_OPTIONS = [{"label": m.value, "value": m.value} for m in RefreshMode]
SENSITIVITY_OPTIONS = [{"label": c.value, "value": c.value} for c in Classification]


def admin_source_href(key: str) -> str:
    return f"{ADMIN_SOURCES_PATH}/{quote(key, safe='')}"


def alert(message: Any, color: str = "success") -> html.Div:
    return html.Div(message, role="alert", className=f"alert alert-{color} mb-0")


def options(choices: Sequence[Choice]) -> list[dict[str, Any]]:
    return [{"label": c.label, "value": c.value} for c in choices]


def _labelled(label: str, control_id: str, control: Any, width: int = 4) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control], xs=12, md=width
    )


def _volume(value: int | None) -> str:
    return "learned" if value is None else f"{value:,} / 15 min"


def sources_table(rows: Sequence[AdminSourceRow]) -> dbc.Table | html.P:
    """Every source in scope: its page, owner, steward, SLA, volume, retention, contract, keys."""
    if not rows:
        return html.P("No source is owned by a unit in your scope yet.", className="small")
    heads = (
        "Source",
        "Owner unit",
        "Steward",
        "Refresh",
        "Freshness SLA",
        "Expected volume",
        "Raw data kept",
        "Sensitivity",
        "Contract",
        "Active keys",
        "Key last used",
        "State",
    )
    body = [
        html.Tr(
            [
                html.Td([dcc.Link(r.name, href=admin_source_href(r.key)), " ", html.Code(r.key)]),
                html.Td(r.owner_unit),
                html.Td(r.steward or "—"),
                html.Td(r.refresh_mode.value),
                html.Td(duration_text(r.freshness_sla_s)),
                html.Td(_volume(r.expected_volume_per_15m)),
                html.Td(f"{r.retention_days} days"),
                html.Td(r.sensitivity.value),
                html.Td("none" if r.contract_version is None else f"v{r.contract_version}"),
                html.Td(f"{r.active_keys:,}"),
                html.Td(when(r.last_key_use)),
                html.Td("active" if r.active else "inactive"),
            ]
        )
        for r in rows
    ]
    head = html.Thead(html.Tr([html.Th(h) for h in heads]))
    return dbc.Table([head, html.Tbody(body)], size="sm", striped=True, responsive=True)


def _number(control_id: str, value: int | None = None, *, minimum: int = 1) -> dbc.Input:
    return dbc.Input(id=control_id, type="number", min=minimum, step=1, value=value)


def create_form() -> dbc.Card:
    """Key, name, owner unit, steward, refresh mode, SLA, volume, retention, sensitivity."""
    ids = LIST_IDS
    rows = [
        dbc.Row(
            [
                _labelled("Key (a-z, 0-9, _)", ids["key"], dbc.Input(id=ids["key"], maxLength=64)),
                _labelled("Name", ids["name"], dbc.Input(id=ids["name"], maxLength=200)),
                _labelled("Owner unit", ids["owner"], dcc.Dropdown(id=ids["owner"], options=[])),
            ],
            class_name="g-2 mb-2",
        ),
        dbc.Row(
            [
                _labelled(
                    "Steward (optional)",
                    ids["steward"],
                    dcc.Dropdown(id=ids["steward"], options=[]),
                ),
                _labelled(
                    "Refresh mode",
                    ids["refresh"],
                    dcc.Dropdown(
                        id=ids["refresh"],
                        options=REFRESH_OPTIONS,
                        value=RefreshMode.STREAMING.value,
                        clearable=False,
                    ),
                ),
                _labelled(
                    "Sensitivity",
                    ids["sensitivity"],
                    dcc.Dropdown(
                        id=ids["sensitivity"],
                        options=SENSITIVITY_OPTIONS,
                        value=Classification.INTERNAL.value,
                        clearable=False,
                    ),
                ),
            ],
            class_name="g-2 mb-2",
        ),
        dbc.Row(
            [
                _labelled("Freshness SLA (seconds)", ids["sla"], _number(ids["sla"], 300)),
                _labelled(
                    "Expected records per 15 min (empty: learned)",
                    ids["volume"],
                    _number(ids["volume"]),
                ),
                _labelled("Raw data kept (days)", ids["retention"], _number(ids["retention"], 90)),
            ],
            class_name="g-2 mb-2",
        ),
        dbc.Label("Description", html_for=ids["description"], class_name="small mb-0"),
        dbc.Textarea(id=ids["description"], maxLength=2000, rows=2, class_name="mb-2"),
        dbc.Button("Create source", id=ids["create"], color="primary", size="sm"),
        html.Div(id=ids["create-note"], className="mt-2"),
        dcc.Store(id=ids["created"]),
    ]
    return dbc.Card(dbc.CardBody([html.H2("New source", className="h5"), *rows]), class_name="mb-3")


def source_head(source: AdminSource) -> html.Div:
    """Name, key, owner and the facts an admin does not edit here."""
    return html.Div(
        [
            html.H1([source.name, " ", html.Code(source.key, className="fs-6")], className="h3"),
            html.P(source.description, className="text-muted") if source.description else None,
            html.P(
                f"Owned by {source.owner_unit} · refresh {source.refresh_mode.value} · "
                f"sensitivity {source.sensitivity.value} · "
                f"{'active' if source.active else 'inactive: ingestion is refused'}",
                className="small",
            ),
            html.P(
                [
                    dcc.Link(
                        "Steward's view of this source",
                        href=f"/steward/sources/{quote(source.key, safe='')}",
                    ),
                    " · ",
                    dcc.Link("All sources", href=ADMIN_SOURCES_PATH),
                ],
                className="small",
            ),
        ]
    )


def settings_form() -> dbc.Card:
    """SLA, expected volume, retention and steward; the values come from the view callback."""
    ids = SOURCE_IDS
    body = [
        html.H2("Settings", className="h5"),
        dbc.Row(
            [
                _labelled("Freshness SLA (seconds)", ids["sla"], _number(ids["sla"]), 3),
                _labelled(
                    "Expected records per 15 min (empty: learned)",
                    ids["volume"],
                    _number(ids["volume"]),
                    3,
                ),
                _labelled("Raw data kept (days)", ids["retention"], _number(ids["retention"]), 2),
                _labelled(
                    "Steward", ids["steward"], dcc.Dropdown(id=ids["steward"], options=[]), 4
                ),
            ],
            class_name="g-2 mb-2",
        ),
        dbc.Button("Save settings", id=ids["save-settings"], color="primary", size="sm"),
        html.Div(id=ids["settings-note"], className="mt-2"),
        dcc.Store(id=ids["settings-saved"]),
    ]
    return dbc.Card(dbc.CardBody(body), class_name="mb-3")


def keys_table(keys: Sequence[KeyRow], now: dt.datetime) -> dbc.Table | html.P:
    """Every key of the source, newest first: prefix, label, state, dates (never the key)."""
    if not keys:
        return html.P("The source has no API key yet.", className="small")
    heads = ("Key", "Label", "State", "Created", "By", "Expires", "Last used", "Revoked")
    body = [
        html.Tr(
            [
                html.Td(html.Code(f"ns_{k.prefix}_…")),
                html.Td(k.label or "—"),
                html.Td(k.state(now)),
                html.Td(when(k.created_at)),
                html.Td(k.created_by or "system"),
                html.Td(when(k.expires_at) if k.expires_at else "never"),
                html.Td(when(k.last_used_at) if k.last_used_at else "never"),
                html.Td(when(k.revoked_at)),
            ]
        )
        for k in keys
    ]
    head = html.Thead(html.Tr([html.Th(h) for h in heads]))
    return dbc.Table([head, html.Tbody(body)], size="sm", striped=True, responsive=True)


def revoke_options(keys: Sequence[KeyRow], now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {"label": f"ns_{k.prefix}_… {k.label}".rstrip(), "value": k.id}
        for k in keys
        if k.state(now) != "revoked"
    ]


def keys_card() -> dbc.Card:
    """The keys list (filled by a callback), a new key (shown once), and revocation."""
    ids = SOURCE_IDS
    create = dbc.Row(
        [
            _labelled("Label", ids["key-label"], dbc.Input(id=ids["key-label"], maxLength=200)),
            _labelled(
                "Expires after (days, empty: never)", ids["key-expiry"], _number(ids["key-expiry"])
            ),
            dbc.Col(
                dbc.Button("Create key", id=ids["create-key"], color="primary", size="sm"),
                xs=12,
                md=4,
                class_name="d-flex align-items-end",
            ),
        ],
        class_name="g-2 mb-2",
    )
    revoke = dbc.Row(
        [
            _labelled(
                "Key to revoke", ids["revoke-choice"], dcc.Dropdown(id=ids["revoke-choice"]), 6
            ),
            dbc.Col(
                dcc.ConfirmDialogProvider(
                    dbc.Button("Revoke", id=ids["revoke"], color="danger", size="sm", outline=True),
                    id=ids["confirm-revoke"],
                    message="Revoke this key? Producers using it are refused from their next "
                    "request on.",
                ),
                xs=12,
                md=4,
                class_name="d-flex align-items-end",
            ),
        ],
        class_name="g-2 mb-2",
    )
    body = [
        html.H2("API keys", className="h5"),
        html.Div(id=ids["keys"]),
        create,
        html.Div(id=ids["key-created"], className="mb-2"),
        revoke,
        html.Div(id=ids["revoke-note"]),
        dcc.Store(id=ids["keys-changed"]),
        dcc.Store(id=ids["keys-revoked"]),
    ]
    return dbc.Card(dbc.CardBody(body), class_name="mb-3")


def new_key_view(plaintext: str, source_name: str) -> html.Div:
    """The new key, once: copy it now, Northstar keeps only its hash."""
    return alert(
        [
            html.P(
                f"New API key of {source_name}. Copy it now: it is shown only this once.",
                className="mb-1",
            ),
            html.Code(plaintext, id="admin-source-new-key", className="user-select-all"),
            dcc.Clipboard(
                target_id="admin-source-new-key", title="Copy", className="ms-2 d-inline"
            ),
        ]
    )
