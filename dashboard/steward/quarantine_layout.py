"""The quarantine browser's parts: filters, actions, the record grid and a record (pure).

Every value shown comes already masked from ``models.queries.steward.quarantine_view``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import dash_ag_grid as dag  # type: ignore[import-untyped]
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import when
from models.enums import QuarantineStatus
from models.queries.steward.quarantine_view import QuarantineItem, QuarantinePage, QuarantineSource

QUARANTINE_PATH = "/steward/quarantine"
SOURCES_PATH = "/steward/sources"
PAGE_SIZE = 50
PAYLOAD_PREVIEW = 300
"""Characters of a payload shown in the grid (the record panel shows all of it)."""

IDS = {
    "source": "quarantine-source",
    "match": "quarantine-match",
    "rules": "quarantine-rules",
    "status": "quarantine-status",
    "dates": "quarantine-dates",
    "grid": "quarantine-grid",
    "summary": "quarantine-summary",
    "pages": "quarantine-pages",
    "record": "quarantine-record",
    "record_panel": "quarantine-record-panel",
    "preview": "quarantine-preview",
    "preview_note": "quarantine-preview-note",
    "preview_store": "quarantine-preview-store",
    "replay": "quarantine-replay",
    "replay_note": "quarantine-replay-note",
    "replayed": "quarantine-replayed",
    "reason": "quarantine-discard-reason",
    "discard_selected": "quarantine-discard-selected",
    "discard_matching": "quarantine-discard-matching",
    "confirm_selected": "quarantine-confirm-selected",
    "confirm_matching": "quarantine-confirm-matching",
    "discard_note": "quarantine-discard-note",
    "discarded": "quarantine-discarded",
}
STATUS_OPTIONS = [
    {"label": "Open", "value": "open"},
    {"label": "Replayed", "value": "replayed"},
    {"label": "Discarded", "value": "discarded"},
    {"label": "Any status", "value": "all"},
]
_STATUS_WORDS = {
    QuarantineStatus.OPEN: "open",
    QuarantineStatus.REPLAYED: "replayed",
    QuarantineStatus.DISCARDED: "discarded",
}


def source_href(source_key: str) -> str:
    return f"{SOURCES_PATH}/{quote(source_key, safe='')}"


def _labelled(label: str, control_id: str, control: Any, width: int) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control_id, class_name="small mb-0"), control], xs=12, md=width
    )


def source_options(sources: Sequence[QuarantineSource]) -> list[dict[str, Any]]:
    """The source filter's choices, each with its open records counted."""
    return [
        {"label": f"{s.name} ({s.key}) · {s.open_records:,} open", "value": s.id} for s in sources
    ]


def rule_options(rules: Sequence[tuple[str, int]]) -> list[html.Option]:
    """The rule-or-reason filter's suggestions: the rules of open records, with their counts."""
    return [html.Option(f"{n:,} open", value=rule) for rule, n in rules]


def filter_bar(
    sources: Sequence[QuarantineSource],
    rules: Sequence[tuple[str, int]],
    *,
    source_id: int | None,
    match: str | None,
) -> dbc.Row:
    """Source, rule or reason (with the rules in use as suggestions), status, received dates."""
    return dbc.Row(
        [
            _labelled(
                "Source",
                IDS["source"],
                dcc.Dropdown(
                    id=IDS["source"],
                    options=source_options(sources),
                    value=source_id,
                    placeholder="All sources",
                ),
                4,
            ),
            _labelled(
                "Rule or reason contains",
                IDS["match"],
                html.Div(
                    [
                        dbc.Input(
                            id=IDS["match"],
                            value=match or "",
                            list=IDS["rules"],
                            debounce=True,
                            placeholder="e.g. max, unknown_org_unit",
                            maxLength=200,
                        ),
                        html.Datalist(rule_options(rules), id=IDS["rules"]),
                    ]
                ),
                3,
            ),
            _labelled(
                "Status",
                IDS["status"],
                dcc.Dropdown(
                    id=IDS["status"], options=STATUS_OPTIONS, value="open", clearable=False
                ),
                2,
            ),
            _labelled(
                "Received (UTC days)",
                IDS["dates"],
                dcc.DatePickerRange(id=IDS["dates"], clearable=True, display_format="YYYY-MM-DD"),
                3,
            ),
        ],
        class_name="g-2 mb-3",
    )


def actions_card() -> dbc.Card:
    """Replay (preview first) and discard (a reason required, confirmed in the browser)."""
    replay = [
        html.H2("Replay after a contract fix", className="h6"),
        html.P(
            "Re-validates the open records of the selected source (only those whose rule is, "
            "or whose reason contains, the text above) against its current contract; those "
            "that pass are ingested again. The status and dates do not apply.",
            className="small text-muted mb-2",
        ),
        dbc.Button("Preview replay", id=IDS["preview"], color="secondary", size="sm"),
        dbc.Button(
            "Replay", id=IDS["replay"], color="primary", size="sm", disabled=True, class_name="ms-2"
        ),
        html.Div(id=IDS["preview_note"], className="mt-2"),
        html.Div(id=IDS["replay_note"], className="mt-2"),
        dcc.Store(id=IDS["preview_store"]),
        dcc.Store(id=IDS["replayed"]),
    ]
    discard = [
        html.H2("Discard", className="h6"),
        dbc.Label(
            "Reason (required, kept in the audit log)",
            html_for=IDS["reason"],
            class_name="small mb-0",
        ),
        dbc.Textarea(id=IDS["reason"], maxLength=1000, rows=2, class_name="mb-2"),
        html.Div(
            [
                dcc.ConfirmDialogProvider(
                    dbc.Button(
                        "Discard selected",
                        id=IDS["discard_selected"],
                        color="danger",
                        size="sm",
                        outline=True,
                    ),
                    id=IDS["confirm_selected"],
                    message="Discard the selected records? They will not be replayed.",
                ),
                dcc.ConfirmDialogProvider(
                    dbc.Button(
                        "Discard all matching",
                        id=IDS["discard_matching"],
                        color="danger",
                        size="sm",
                        outline=True,
                    ),
                    id=IDS["confirm_matching"],
                    message="Discard every open record matching the filters? "
                    "They will not be replayed.",
                ),
            ],
            className="d-flex gap-2",
        ),
        html.Div(id=IDS["discard_note"], className="mt-2"),
        dcc.Store(id=IDS["discarded"]),
    ]
    return dbc.Card(
        dbc.CardBody(dbc.Row([dbc.Col(replay, md=6), dbc.Col(discard, md=6)])),
        class_name="mb-3",
    )


COLUMNS = [
    {"field": "received", "headerName": "Received (UTC)", "width": 180, "minWidth": 180},
    {"field": "source", "headerName": "Source", "width": 110},
    {"field": "rule", "headerName": "Rule", "width": 130},
    {"field": "field", "headerName": "Field", "width": 100},
    {
        "field": "reason",
        "headerName": "Reason",
        "flex": 2,
        "minWidth": 200,
        "tooltipField": "reason",
    },
    {"field": "status", "headerName": "Status", "width": 100},
    {"field": "version", "headerName": "Contract", "width": 95},
    {
        "field": "payload",
        "headerName": "Payload (masked as for events)",
        "flex": 3,
        "minWidth": 260,
    },
    {"field": "acted", "headerName": "Acted", "width": 200, "tooltipField": "acted"},
]


def record_grid() -> dag.AgGrid:
    """One page of records at a time (the server pages); rows selectable for discarding."""
    return dag.AgGrid(
        id=IDS["grid"],
        rowData=[],
        columnDefs=COLUMNS,
        getRowId="params.data.id",
        defaultColDef={"resizable": True, "sortable": False, "filter": False},
        columnSize="responsiveSizeToFit",
        dashGridOptions={
            "rowSelection": {
                "mode": "multiRow",
                "checkboxes": True,
                "headerCheckbox": True,
                "enableClickSelection": False,
            },
            "suppressFieldDotNotation": True,
        },
        style={"width": "100%", "height": "520px"},
    )


def _reason_text(item: QuarantineItem) -> str:
    return item.reason if item.reason is not None else "(withheld: it concerns a masked field)"


def _acted(item: QuarantineItem) -> str:
    if item.acted_at is None:
        return ""
    who = item.acted_by or "system"
    note = f": {item.note}" if item.note else ""
    return f"{who}, {when(item.acted_at)}{note}"


def grid_rows(items: Sequence[QuarantineItem]) -> list[dict[str, Any]]:
    """One row per record; the id (a string, the grid's row id) selects and opens it."""
    rows = []
    for item in items:
        payload = item.payload_text
        if len(payload) > PAYLOAD_PREVIEW:
            payload = payload[: PAYLOAD_PREVIEW - 1] + "…"
        rows.append(
            {
                "id": str(item.id),
                "received": when(item.received_at),
                "source": item.source_key,
                "rule": item.rule,
                "field": item.field or "",
                "reason": _reason_text(item),
                "status": _STATUS_WORDS[item.status],
                "version": "" if item.contract_version is None else f"v{item.contract_version}",
                "payload": payload,
                "acted": _acted(item),
            }
        )
    return rows


def page_count(page: QuarantinePage) -> int:
    return max(1, -(-page.total // PAGE_SIZE))


def summary(page: QuarantinePage, statuses: str) -> str:
    """``Records 51 to 100 of 234 open records. Click a row to see it; tick rows to discard.``"""
    what = "records" if statuses == "all" else f"{statuses} records"
    if not page.items:
        return f"No {what} match the filters."
    first, last = page.offset + 1, page.offset + len(page.items)
    more = " (only these can be paged through: narrow the filters)" if page.capped else ""
    return (
        f"Records {first:,} to {last:,} of {page.total:,}{'+' if page.capped else ''} {what}"
        f"{more}. Click a row to see its payload; tick rows to discard them."
    )


def _fact(term: str, value: Any) -> list[Any]:
    return [html.Dt(term, className="col-sm-3"), html.Dd(value, className="col-sm-9 mb-1")]


def _batch_text(item: QuarantineItem) -> str:
    if item.batch_id is None:
        return "—"
    index = "" if item.record_index is None else f", record {item.record_index}"
    return f"{item.batch_id}{index}"


def record_detail(item: QuarantineItem) -> html.Div:
    """One record: where it came from, why it was rejected, what happened, the payload."""
    if item.payload is None:
        shown: Any = html.Em("No payload was kept.")
    elif item.parsed:
        text = json.dumps(item.payload, ensure_ascii=False, indent=2, sort_keys=True, default=str)
        shown = html.Pre(text, className="mb-0 small")
    else:
        shown = html.Pre(str(item.payload), className="mb-0 small")
    facts = [
        *_fact(
            "Source",
            dcc.Link(f"{item.source_name} ({item.source_key})", href=source_href(item.source_key)),
        ),
        *_fact("Rule", item.rule),
        *_fact("Field", item.field or "—"),
        *_fact("Reason", _reason_text(item)),
        *_fact(
            "Contract version", "—" if item.contract_version is None else str(item.contract_version)
        ),
        *_fact("Received", when(item.received_at)),
        *_fact("Batch", _batch_text(item)),
        *_fact("Status", _STATUS_WORDS[item.status]),
        *_fact("Acted", _acted(item) or "—"),
    ]
    return html.Div(
        [
            html.H2(f"Record {item.id}", className="h6 text-muted"),
            html.Dl(facts, className="row mb-2"),
            html.H3("Payload" if item.parsed else "Raw text (it did not parse)", className="h6"),
            shown,
        ]
    )


def record_panel() -> dbc.Offcanvas:
    """The side panel a clicked record opens in."""
    return dbc.Offcanvas(
        html.Div(id=IDS["record"]),
        id=IDS["record_panel"],
        title="Quarantined record",
        placement="end",
        is_open=False,
        style={"width": "42rem"},
    )


def alert(message: str, color: str = "success") -> html.Div:
    return html.Div(message, role="alert", className=f"alert alert-{color} mb-0 py-2")
