"""The lineage page's parts: source → metrics → KPIs → pages, each source with its badge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import (
    events_href,
    health_href,
    kpi_page_href,
    quality_badge,
    queue_href,
)
from dashboard.steward.quarantine_layout import source_href
from models.queries.steward.console import LineageSource
from models.queries.steward.lineage import KpiRef, MetricImpact
from models.queries.steward.quality import Badge

OVERVIEW_PATH = "/"
COLUMNS = ("Metric", "KPIs reading it", "Pages")


def _metric_name(metric: MetricImpact) -> html.Td:
    what = "event count" if metric.measure is None else f"measure {metric.measure}"
    return html.Td([html.Code(metric.key), html.Div(what, className="small text-muted")])


def _kpi(kpi: KpiRef, badges: Mapping[str, Badge]) -> html.Div:
    return html.Div(
        [quality_badge(badges.get(kpi.key)), " ", dcc.Link(kpi.name, href=kpi_page_href(kpi.key))]
    )


def _pages(kpis: Sequence[KpiRef]) -> html.Td:
    if not kpis:
        return html.Td("—")
    links: list[html.Div] = [
        html.Div(
            [
                dcc.Link(f"{kpi.name} page", href=kpi_page_href(kpi.key)),
                " · ",
                dcc.Link("events", href=events_href(kpi.key)),
            ],
            className="small",
        )
        for kpi in kpis
    ]
    links.append(html.Div(dcc.Link("Overview tiles", href=OVERVIEW_PATH), className="small"))
    return html.Td(links)


def source_card(
    source: LineageSource, badge: Badge | None, kpi_badges: Mapping[str, Badge]
) -> dbc.Card:
    """One source: its badge, owner and steward, and a row per metric with the KPIs reading
    it and the pages showing them."""
    rows = [
        html.Tr(
            [
                _metric_name(metric),
                html.Td([_kpi(k, kpi_badges) for k in metric.kpis] or "—"),
                _pages(metric.kpis),
            ]
        )
        for metric in source.metrics
    ]
    facts = [
        f"owner {source.owner_unit}",
        f"steward {source.steward}" if source.steward else "no steward",
        source.refresh_mode.value,
        f"feeds {len(source.kpis)} KPI{'s' if len(source.kpis) != 1 else ''}",
    ]
    if not source.active:
        facts.append("inactive")
    return dbc.Card(
        [
            dbc.CardHeader(
                [
                    quality_badge(badge),
                    " ",
                    dcc.Link(html.Strong(source.name), href=source_href(source.key)),
                    html.Span(f" ({source.key})", className="text-muted"),
                    html.Div(
                        [
                            " · ".join(facts),
                            " · ",
                            dcc.Link("data health", href=health_href(source.key)),
                            " · ",
                            dcc.Link("incidents", href=queue_href(source.key)),
                        ],
                        className="small text-muted",
                    ),
                ]
            ),
            dbc.CardBody(
                dbc.Table(
                    [
                        html.Thead(html.Tr([html.Th(c, scope="col") for c in COLUMNS])),
                        html.Tbody(rows),
                    ],
                    size="sm",
                    responsive=True,
                    class_name="mb-0 align-middle",
                )
                if rows
                else html.P("No metrics.", className="text-muted mb-0")
            ),
        ],
        class_name="mb-3",
    )


def lineage_view(
    sources: Sequence[LineageSource],
    badges: Mapping[int, Badge],
    kpi_badges: Mapping[str, Badge],
) -> html.Div:
    if not sources:
        return html.Div(
            html.P("No source is owned by a unit in your scope.", className="text-muted")
        )
    return html.Div([source_card(s, badges.get(s.id), kpi_badges) for s in sources])
