"""The head of the KPI page: the KPI's value, the previous period's and the plain summary."""

from __future__ import annotations

import datetime as dt

from dash import dcc, html

from dashboard.alerts.review_marks import review_strip
from dashboard.executive.breakdown import events_href
from dashboard.executive.definition_marks import changes_note
from dashboard.executive.kpi_data import KpiPageData
from dashboard.executive.summary import (
    PERIOD_LABELS,
    PREVIOUS_LABELS,
    PeriodChoice,
    SummaryInput,
    UnitChange,
    format_value,
    summarize,
)

SUMMARY_ID = "kpi-summary"


def page_summary(data: KpiPageData, choice: PeriodChoice, now: dt.datetime) -> str:
    """The generated sentence about the value, its change, the target and the data."""
    before = {row.unit.id: row.value for row in data.previous_breakdown.rows}
    judged = data.judgement
    return summarize(
        SummaryInput(
            kpi_name=data.kpi.name,
            value=data.value.value,
            previous=data.value.previous_value,
            direction=data.kpi.direction,
            previous_label=PREVIOUS_LABELS[choice],
            fmt=data.kpi.format,
            unit=data.kpi.unit,
            target=judged.target,
            target_text=judged.explanation,
            status=judged.status,
            children=[
                UnitChange(row.unit.name, row.value, before.get(row.unit.id))
                for row in data.breakdown.rows
            ],
            late_sources=[s.name for s in data.lineage.sources if s.is_late(now)],
            quality_reasons=data.badge.reasons,
        )
    )


def header(data: KpiPageData, choice: PeriodChoice, now: dt.datetime) -> html.Div:
    """Name and unit, the value and the previous one, the summary and the events link."""
    kpi = data.kpi
    return html.Div(
        [
            html.H1(f"{kpi.name} · {data.unit.name}", className="h3 mb-1"),
            html.Div(
                [
                    html.Span(
                        format_value(data.value.value, kpi.format, kpi.unit),
                        className="display-6 me-3",
                    ),
                    html.Span(
                        f"{PERIOD_LABELS[choice]} · previous "
                        f"{format_value(data.value.previous_value, kpi.format, kpi.unit)}",
                        className="text-muted",
                    ),
                ]
            ),
            html.P(page_summary(data, choice, now), id=SUMMARY_ID, className="lead fs-6 mt-2"),
            changes_note(data.definition_changes),
            review_strip(data.reviews),
            dcc.Link(
                "See the events behind this number →",
                href=events_href(kpi.key, data.unit.key, choice.value),
            ),
        ],
        className="mb-3",
    )
