"""The data-health page's parts: the sources x checks matrix and the volume chart's caption."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.common.look import quality_badge, queue_href, state_badge, when
from dashboard.steward.figures import is_outside
from dashboard.steward.quarantine_layout import source_href
from models.quality.tables import CheckKey
from models.queries.steward.dq_health import SourceHealth, VolumePoint
from models.queries.steward.incidents import ResultView
from models.queries.steward.quality import Badge

SPANS = {"1d": ("Last 24 hours", dt.timedelta(days=1)), "3d": ("Last 3 days", dt.timedelta(days=3))}
SPANS["7d"] = ("Last 7 days", dt.timedelta(days=7))
DEFAULT_SPAN = "1d"


def check_title(check: CheckKey) -> str:
    return check.value.replace("_", " ").capitalize()


def _cell(result: ResultView | None) -> html.Td:
    if result is None:
        return html.Td(state_badge(None, title="This check has not run on this source"))
    title = (
        f"{result.summary} (window {when(result.window_start)} to {when(result.window_end)}, "
        f"evaluated {when(result.at)})"
    )
    return html.Td(state_badge(result.state, title=title))


def health_table(sources: Sequence[SourceHealth], badges: Mapping[int, Badge]) -> html.Div:
    """One row per source: its badge, then the latest state of each check (summary on hover)."""
    if not sources:
        return html.Div(
            html.P("No active source is owned by a unit in your scope.", className="text-muted")
        )
    header = html.Tr(
        [
            html.Th("Source", scope="col"),
            html.Th("Badge", scope="col"),
            *(html.Th(check_title(c), scope="col") for c in CheckKey),
        ]
    )
    rows = [
        html.Tr(
            [
                html.Th(
                    [
                        html.Div(dcc.Link(s.name, href=source_href(s.key))),
                        dcc.Link("incidents", href=queue_href(s.key), className="small"),
                    ],
                    scope="row",
                ),
                html.Td(quality_badge(badges.get(s.source_id))),
                *(_cell(s.checks.get(c)) for c in CheckKey),
            ]
        )
        for s in sources
    ]
    return html.Div(
        [
            dbc.Table(
                [html.Thead(header), html.Tbody(rows)],
                bordered=True,
                responsive=True,
                size="sm",
                class_name="align-middle",
            ),
            html.P(
                "Each cell is the check's latest result; hover for its summary and window.",
                className="text-secondary small",
            ),
        ]
    )


def volume_caption(name: str, span_label: str, points: Sequence[VolumePoint]) -> str:
    """What the volume chart shows, and how many windows fell outside the band."""
    outside = sum(1 for p in points if is_outside(p))
    if not points or all(p.expected is None for p in points):
        band = "no expected volume yet (too few weeks of history and none declared)"
    elif any(p.high is not None for p in points):
        band = "the band is the anomaly check's, around the same window in previous weeks"
    else:
        band = "the line is the declared volume's completeness limit"
    return (
        f"{name}: records per 15-minute window, {span_label.lower()}; {band}. "
        f"{outside} window{'s' if outside != 1 else ''} outside."
    )
