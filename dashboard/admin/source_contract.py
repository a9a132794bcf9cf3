"""The admin source page's contract editor: the JSON text, the check with its messages, the
diff against the current version and the preview of recent records (pure builders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.steward.source_view import contract_section, diff_table
from ingest.contract_preview import ContractPreview, Tally
from models.contracts import Contract
from models.queries.steward.sources_view import ContractVersion
from models.queries.steward.sources_view_diff import contract_diff, diff_summary

CONTRACT_IDS = {
    name: f"admin-contract-{name}"
    for name in (
        "current",
        "editor",
        "note",
        "base",
        "check",
        "preview",
        "preview-store",
        "save",
        "save-note",
        "saved",
    )
}
HELP = (
    "A JSON array of fields, each with name, type (string, int, float, bool, timestamp, enum), "
    "role (event_id, timestamp, org_unit, measure, dimension, attribute) and optionally "
    "required, classification (public, internal, confidential, pii), min, max, pattern, "
    "allowed, reference and description. Check it to see the differences and how recent "
    "records would fare; then save it as the next version."
)


def contract_card() -> dbc.Card:
    """The current contract (filled by a callback), the editor, check and save."""
    ids = CONTRACT_IDS
    body = [
        html.Div(id=ids["current"]),
        html.H3("New version", className="h6 mt-3"),
        html.P(HELP, className="small text-muted"),
        dbc.Textarea(
            id=ids["editor"],
            rows=18,
            spellCheck=False,
            class_name="font-monospace small mb-2",
            maxLength=200_000,
        ),
        dbc.Label(
            "What changed and why (kept with the version)",
            html_for=ids["note"],
            class_name="small mb-0",
        ),
        dbc.Input(id=ids["note"], maxLength=1000, class_name="mb-2"),
        html.Div(
            [
                dbc.Button("Check and preview", id=ids["check"], color="secondary", size="sm"),
                dbc.Button(
                    "Save as new version",
                    id=ids["save"],
                    color="primary",
                    size="sm",
                    disabled=True,
                    class_name="ms-2",
                ),
            ]
        ),
        dcc.Loading(html.Div(id=ids["preview"], className="mt-2"), type="dot", delay_show=300),
        html.Div(id=ids["save-note"], className="mt-2"),
        dcc.Store(id=ids["base"]),
        dcc.Store(id=ids["preview-store"]),
        dcc.Store(id=ids["saved"]),
    ]
    return dbc.Card(dbc.CardBody(body), class_name="mb-3")


def current_view(versions: Sequence[ContractVersion]) -> html.Div:
    """The current version's fields and every version's changes (the steward page's view)."""
    return contract_section(versions)


def problems_view(problems: Sequence[str]) -> html.Div:
    """Why the text is not a valid contract: one line per problem."""
    return html.Div(
        [
            html.P(
                "The contract is not valid; nothing was checked against records:", className="mb-1"
            ),
            html.Ul([html.Li(p) for p in problems], className="mb-0"),
        ],
        role="alert",
        className="alert alert-warning mb-0",
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _reasons(tally: Tally) -> dbc.Table | None:
    if not tally.failures:
        return None
    head = html.Thead(html.Tr([html.Th(h) for h in ("Field", "Rule", "Records", "For example")]))
    rows = [
        html.Tr(
            [
                html.Td(html.Code(field) if field else "—"),
                html.Td(rule),
                html.Td(f"{count:,}"),
                html.Td(tally.examples.get((field, rule), "")),
            ]
        )
        for (field, rule), count in sorted(
            tally.failures.items(), key=lambda item: (-item[1], item[0][1], item[0][0] or "")
        )
    ]
    return dbc.Table([head, html.Tbody(rows)], size="sm", bordered=True, responsive=True)


def tally_text(tally: Tally, what: str) -> str:
    """``Of the 1,000 newest stored events: 990 would pass, 10 would fail.``"""
    if tally.checked == 0 and tally.unreadable == 0:
        return f"There are no {what} to check."
    text = (
        f"Of the {_plural(tally.checked, what.removesuffix('s'))} checked: "
        f"{tally.passed:,} would pass, {tally.failed:,} would fail"
    )
    if tally.unreadable:
        text += f" ({tally.unreadable:,} more cannot be checked: not valid JSON)"
    return text + "."


def preview_view(
    current: Contract | None, proposed: Contract, preview: ContractPreview, limit: int
) -> html.Div:
    """The diff against the current version, then how recent records would fare."""
    if current is None:
        diff: Any = html.P("The source has no contract yet: this is its first version.")
        summary = "first version"
    else:
        changes = contract_diff(current, proposed)
        diff = diff_table(changes)
        summary = f"against version {current.version}: {diff_summary(changes)}"
    parts: list[Any] = [
        html.H3(f"Version {proposed.version}, {summary}", className="h6"),
        diff,
        html.H3(
            f"How recent records would fare (the newest {limit:,} of each kind)",
            className="h6 mt-3",
        ),
    ]
    for tally, what in (
        (preview.events, "stored events"),
        (preview.quarantine, "quarantined records"),
    ):
        parts += [html.P(tally_text(tally, what), className="small mb-1"), _reasons(tally)]
    return html.Div(parts)
