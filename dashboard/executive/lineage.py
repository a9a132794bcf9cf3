"""The KPI's definition, owner and lineage: the sources that feed it and their freshness."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import dash_bootstrap_components as dbc
from dash import html

from dashboard.common.look import BADGE_LOOK
from models.queries.executive.definitions import KpiDefinition
from models.queries.steward.lineage import KpiLineage, SourceLineage
from models.queries.steward.quality import Badge, QualityLevel


def duration_text(delta: dt.timedelta) -> str:
    """A rough human duration: "45 s", "12 min", "3 h", "2 d"."""
    seconds = max(int(delta.total_seconds()), 0)
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def freshness_text(source: SourceLineage, now: dt.datetime) -> tuple[str, bool]:
    """What to say about a source's freshness, and whether it is late against its SLA."""
    sla = duration_text(dt.timedelta(seconds=source.freshness_sla_s))
    age = source.age(now)
    if age is None:
        return f"Late: no events in your scope recently (SLA {sla})", True
    late = source.is_late(now)
    state = "Late" if late else "Fresh"
    return f"{state}: newest event {duration_text(age)} ago (SLA {sla})", late


def quality_badge(source: SourceLineage, now: dt.datetime, badge: Badge | None) -> dbc.Badge:
    """The source's data-quality badge (icon and word, not colour alone; the reason on
    hover); without one, a fresh/late badge from its freshness in scope."""
    if badge is None:
        late = source.is_late(now)
        level = QualityLevel.WARNING if late else QualityLevel.OK
        word, reason = ("late" if late else "fresh"), freshness_text(source, now)[0]
    else:
        level, word, reason = badge.level, badge.level.label, badge.reason
    icon, color, text_color = BADGE_LOOK[level]
    return dbc.Badge(
        f"{icon} {word}", color=color, text_color=text_color, title=reason, className="me-2"
    )


def _source_item(source: SourceLineage, now: dt.datetime, badge: Badge | None) -> html.Li:
    text, _late = freshness_text(source, now)
    if badge is not None and badge.reasons:
        text = f"{text}; {badge.reason}"
    details = [
        f"owner {source.owner_unit}",
        f"steward {source.steward}" if source.steward else "no steward",
        f"{source.refresh_mode.value}",
        f"metrics {', '.join(source.metrics) or '—'}",
    ]
    return html.Li(
        [
            quality_badge(source, now, badge),
            html.Strong(source.name),
            html.Span(f" ({source.key})", className="text-muted"),
            html.Div(text, className="small"),
            html.Div(" · ".join(details), className="small text-muted"),
        ],
        className="mb-2",
    )


def definition_card(
    kpi: KpiDefinition,
    lineage: KpiLineage,
    now: dt.datetime,
    badges: Mapping[int, Badge] | None = None,
) -> dbc.Card:
    """Formula, description, owner, steward and each feeding source with its freshness and
    (when ``badges`` has one for it) its data-quality badge."""
    found = badges or {}
    sources = (
        html.Ul(
            [_source_item(s, now, found.get(s.id)) for s in lineage.sources],
            className="list-unstyled mb-0",
        )
        if lineage.sources
        else html.P("No source feeds this KPI.", className="text-muted mb-0")
    )
    return dbc.Card(
        [
            dbc.CardHeader("Definition and lineage"),
            dbc.CardBody(
                [
                    html.P(kpi.description or "No description.", className="mb-2"),
                    html.Div(["Formula: ", html.Code(kpi.formula.text)], className="mb-2"),
                    html.Div(
                        f"Owner: {lineage.owner_unit or '—'} · "
                        f"Steward: {lineage.steward or 'none'} · "
                        f"{'Higher' if kpi.direction.value.startswith('higher') else 'Lower'}"
                        " is better",
                        className="small text-muted mb-3",
                    ),
                    html.H3("Sources", className="h6"),
                    sources,
                ]
            ),
        ],
        className="mb-3",
    )
