"""The source page's parts: facts, contract versions with their diffs, recent checks (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import (
    health_href,
    quality_badge,
    queue_href,
    state_badge,
    when,
)
from dashboard.steward.quarantine_layout import QUARANTINE_PATH
from models.contracts import Contract
from models.quality.windows import duration_text
from models.queries.steward.incidents import ResultView
from models.queries.steward.quality import Badge
from models.queries.steward.sources_view import ContractVersion, SourceDetail
from models.queries.steward.sources_view_diff import (
    ChangeKind,
    FieldChange,
    contract_diff,
    diff_summary,
    value_text,
)

_KIND_LOOK = {
    ChangeKind.ADDED: ("+", "Added", "success"),
    ChangeKind.REMOVED: ("✗", "Removed", "danger"),
    ChangeKind.CHANGED: ("~", "Changed", "warning"),
}


def quarantine_href(source_key: str) -> str:
    return f"{QUARANTINE_PATH}?{urlencode({'source': source_key})}"


def _fact(term: str, value: Any) -> list[Any]:
    return [html.Dt(term, className="col-sm-4"), html.Dd(value, className="col-sm-8 mb-1")]


def _volume(detail: SourceDetail) -> str:
    if detail.expected_volume_per_15m is None:
        return "not declared (learned from previous weeks)"
    return f"{detail.expected_volume_per_15m:,} records per 15 minutes (declared)"


def _agreement(detail: SourceDetail) -> str:
    if detail.partner_agreement_ref is None:
        return "—"
    expires = detail.partner_agreement_expires_at
    return detail.partner_agreement_ref + (f", expires {when(expires)}" if expires else "")


def source_header(detail: SourceDetail, badge: Badge | None) -> html.Div:
    """Name, badge (reasons on hover and below), and the facts a steward checks first."""
    refresh = detail.refresh_mode.value
    if detail.pull_interval_s:
        refresh += f", pulled every {duration_text(detail.pull_interval_s)}"
    facts = [
        *_fact("Key", html.Code(detail.key)),
        *_fact("Owner unit", detail.owner_unit),
        *_fact("Steward", detail.steward or "— (the owner unit's stewards)"),
        *_fact("Freshness SLA", duration_text(detail.freshness_sla_s)),
        *_fact("Expected volume", _volume(detail)),
        *_fact("Refresh", refresh),
        *_fact("Raw data kept", f"{detail.retention_days} days"),
        *_fact("Sensitivity", detail.sensitivity.value),
        *_fact("Partner agreement", _agreement(detail)),
        *_fact("State", "active" if detail.active else "inactive: ingestion is refused"),
    ]
    links: list[Any] = [
        dcc.Link("Incidents", href=queue_href(detail.key)),
        " · ",
        dcc.Link("Volume and checks", href=health_href(detail.key)),
    ]
    if detail.open_quarantined is not None:
        links += [
            " · ",
            dcc.Link(
                f"Quarantine ({detail.open_quarantined:,} open)", href=quarantine_href(detail.key)
            ),
        ]
    reason = badge.reason if badge is not None else "The source has no badge yet."
    return html.Div(
        [
            html.H1([detail.name, " ", quality_badge(badge)], className="h3"),
            html.P(detail.description, className="text-muted") if detail.description else None,
            html.P(reason, className="small"),
            html.Dl(facts, className="row mb-2", style={"maxWidth": "48rem"}),
            html.P(links, className="small"),
        ]
    )


def fields_table(contract: Contract) -> dbc.Table:
    """Every field of a contract version with its type, role, rules and classification."""
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in (
                    "Field",
                    "Type",
                    "Role",
                    "Required",
                    "Classification",
                    "Rules",
                    "Description",
                )
            ]
        )
    )
    rows = []
    for spec in contract.fields:
        rules = [
            f"{prop} {value_text(getattr(spec, prop))}"
            for prop in ("min", "max", "pattern", "allowed", "reference")
            if getattr(spec, prop) is not None
        ]
        rows.append(
            html.Tr(
                [
                    html.Td(html.Code(spec.name)),
                    html.Td(spec.type.value),
                    html.Td(spec.role.value),
                    html.Td(value_text(spec.required)),
                    html.Td(spec.classification.value),
                    html.Td("; ".join(rules) or "—"),
                    html.Td(spec.description or "—"),
                ]
            )
        )
    return dbc.Table([head, html.Tbody(rows)], size="sm", bordered=True, responsive=True)


def diff_table(changes: Sequence[FieldChange]) -> dbc.Table | html.P:
    """One row per change: field, what happened (icon and word), property, before, after."""
    if not changes:
        return html.P("No change to the fields (only the note or the author).", className="small")
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Field", "Change", "Property", "Before", "After")])
    )
    rows = []
    for change in changes:
        icon, word, color = _KIND_LOOK[change.kind]
        rows.append(
            html.Tr(
                [
                    html.Td(html.Code(change.field)),
                    html.Td(
                        dbc.Badge(
                            f"{icon} {word}",
                            color=color,
                            text_color="dark" if color == "warning" else None,
                        )
                    ),
                    html.Td(change.prop or "—"),
                    html.Td(change.before),
                    html.Td(change.after),
                ],
                className=f"diff-{change.kind.value}",
            )
        )
    return dbc.Table([head, html.Tbody(rows)], size="sm", bordered=True, responsive=True)


def _version_title(version: ContractVersion) -> str:
    by = f" by {version.created_by}" if version.created_by else ""
    note = f": {version.note}" if version.note else ""
    return f"Version {version.version}, {when(version.created_at)}{by}{note}"


def contract_section(versions: Sequence[ContractVersion]) -> html.Div:
    """The current version's fields, then each version (newest first) against the one before."""
    if not versions:
        return html.Div(
            [
                html.H2("Contract", className="h5"),
                html.P("This source has no contract yet: it cannot take records."),
            ]
        )
    items = []
    for newer, older in zip(versions, [*versions[1:], None], strict=True):
        if older is None:
            body: Any = [
                html.P("The first version.", className="small"),
                fields_table(newer.contract),
            ]
            summary = "first version"
        else:
            changes = contract_diff(older.contract, newer.contract)
            summary = f"against version {older.version}: {diff_summary(changes)}"
            body = diff_table(changes)
        items.append(
            dbc.AccordionItem(
                body, title=f"{_version_title(newer)} — {summary}", item_id=f"v{newer.version}"
            )
        )
    current = versions[0]
    return html.Div(
        [
            html.H2(f"Contract (current version {current.version})", className="h5"),
            fields_table(current.contract),
            html.H3("Versions and what changed", className="h6 mt-3"),
            dbc.Accordion(
                items, active_item=items[0].item_id if len(versions) > 1 else None, always_open=True
            ),
        ]
    )


def checks_table(results: Sequence[ResultView]) -> html.Div:
    """The newest check results, newest first."""
    title = html.H2("Recent checks", className="h5 mt-4")
    if not results:
        return html.Div([title, html.P("No check has run on this source yet.", className="small")])
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Evaluated", "Check", "Window", "State", "Summary")])
    )
    rows = [
        html.Tr(
            [
                html.Td(when(r.at)),
                html.Td(r.check.value),
                html.Td(f"{r.window_start:%H:%M} to {r.window_end:%H:%M}"),
                html.Td(state_badge(r.state)),
                html.Td(r.summary),
            ]
        )
        for r in results
    ]
    return html.Div(
        [title, dbc.Table([head, html.Tbody(rows)], size="sm", striped=True, responsive=True)]
    )


def source_body(
    detail: SourceDetail,
    badge: Badge | None,
    versions: Sequence[ContractVersion],
    results: Sequence[ResultView],
) -> html.Div:
    return html.Div(
        [source_header(detail, badge), contract_section(versions), checks_table(results)]
    )
