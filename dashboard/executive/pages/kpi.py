"""The KPI page (level 2): trend, breakdown by child unit, definition, lineage and summary.

The reads are in ``dashboard.executive.kpi_data``, the head in ``kpi_head``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, NamedTuple

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from dashboard.alerts.figures import with_review_marks
from dashboard.alerts.review_marks import marks
from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_services,
    error_view,
    guarded_callback,
)
from dashboard.cache import call_cache
from dashboard.cache.lazy import lazy_connection
from dashboard.common.figure_spec import Figure
from dashboard.executive.breakdown import breadcrumb, breakdown_card, breakdown_table, kpi_href
from dashboard.executive.definition_marks import with_change_marks
from dashboard.executive.figures.breakdown import breakdown_figure
from dashboard.executive.figures.trend import references, trend_figure
from dashboard.executive.kpi_data import KpiPageData, KpiRequest, load_page, parse_request
from dashboard.executive.kpi_head import header
from dashboard.executive.lineage import definition_card
from dashboard.executive.summary import AUTO, PERIOD_LABELS, PeriodChoice, checked_key
from dashboard.executive.trend import granularity_selector, trend_card, trend_note
from dashboard.shell import live
from models.facts import BUCKET_WIDTH
from models.queries.common import QueryLimits

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/kpi/<kpi_key>", name="KPI", title="Northstar — KPI", nav=False
)

PAGE = "kpi"
PARAMS_ID = "kpi-params"
PERIOD_ID = "kpi-period"
GRANULARITY_ID = "kpi-granularity"
BODY_ID = "kpi-body"
HEAD_ID = "kpi-head"
DETAIL_ID = "kpi-detail"
TREND_GRAPH_ID = "kpi-trend-graph"
TREND_NOTE_ID = "kpi-trend-note"
DEFINITION_ID = "kpi-definition"
BREAKDOWN_ID = "kpi-breakdown"
BREAKDOWN_GRAPH_ID = "kpi-breakdown-graph"
NAVIGATE_ID = "kpi-navigate"
LIVE = live.LiveIds.for_page(PAGE)


class KpiOutputs(NamedTuple):
    """What the page's callback sets, in the order of its Outputs."""

    head: Any
    """Breadcrumb, value and summary; or the refusal."""
    detail_hidden: bool
    trend: Any
    """The trend figure, or a ``dash.Patch`` of its data on a live refresh."""
    trend_note: str
    definition: Any
    breakdown: Any
    watch: str | None


def trend_view(data: KpiPageData, request: KpiRequest) -> str:
    """A digest of what the trend figure's layout depends on: when a live refresh finds the
    browser drawing the same, only the figure's data is sent."""
    parts = (data.kpi.key, data.kpi.name, data.kpi.unit, str(data.unit.id), request.period.value)
    marked = tuple(f"{m.id}:{m.open}:{m.at.isoformat()}" for m in marks(data.reviews))
    marked += tuple(f"v{c.version}" for c in data.definition_changes)
    text = "\x1f".join((*parts, data.granularity.value, *marked))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trend(data: KpiPageData, view: str) -> Figure:
    """The trend figure; its ``uirevision`` is the view digest."""
    kpi, judged = data.kpi, data.judgement
    figure = trend_figure(
        data.series,
        data.previous_series,
        title=f"{kpi.name} over time",
        unit=kpi.unit,
        lines=references(
            judged.target,
            judged.warn,
            judged.crit,
            scale=BUCKET_WIDTH[data.granularity] / data.period.length
            if kpi.formula.is_additive
            else None,
        ),
        uirevision=view,
    )
    start, end = data.period.start, data.period.end
    figure = with_change_marks(figure, data.definition_changes, start, end)
    return with_review_marks(figure, marks(data.reviews), start, end)


def outputs(
    data: KpiPageData, request: KpiRequest, now: dt.datetime, *, patch: bool, watch: str | None
) -> KpiOutputs:
    """The page below the controls, from what was read (pure)."""
    kpi, choice = data.kpi, request.period
    figure = trend(data, trend_view(data, request))
    before = {row.unit.id: row.value for row in data.previous_breakdown.rows}
    table = breakdown_table(
        data.breakdown.rows,
        before,
        kpi_key=kpi.key,
        period=choice.value,
        fmt=kpi.format,
        unit=kpi.unit,
        levels=kpi.levels,
    )
    bars = (
        breakdown_figure(data.breakdown.rows, title=f"{kpi.name} by unit", unit=kpi.unit)
        if data.breakdown.rows
        else None
    )
    return KpiOutputs(
        head=html.Div([breadcrumb(data.trail, kpi.key, choice.value), header(data, choice, now)]),
        detail_hidden=False,
        trend=live.data_patch(figure) if patch else figure,
        trend_note=trend_note(data.granularity, request.granularity is None),
        definition=definition_card(kpi, data.lineage, now, data.badges),
        breakdown=breakdown_card(bars, table, BREAKDOWN_GRAPH_ID),
        watch=watch,
    )


def refused(error: UserFacingError) -> KpiOutputs:
    """The refusal instead of the page; the figure stays as it was, hidden."""
    return KpiOutputs(error_view(error), True, dash.no_update, "", None, None, None)


def layout(
    kpi_key: str | None = None,
    unit: str | None = None,
    period: str | None = None,
    **_query: Any,
) -> html.Div:
    """The controls and an empty body; the guarded callback reads and checks everything."""
    choice = period if period in {c.value for c in PeriodChoice} else PeriodChoice.LAST_7_DAYS
    return html.Div(
        [
            dcc.Store(id=PARAMS_ID, data={"kpi": kpi_key, "unit": unit}),
            dcc.Location(id=NAVIGATE_ID, refresh="callback-nav"),
            live.live_refresh(LIVE, current_services().settings.live_poll_ms),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.RadioItems(
                            id=PERIOD_ID,
                            options=[
                                {"label": PERIOD_LABELS[c], "value": c.value} for c in PeriodChoice
                            ],
                            value=choice,
                            inline=True,
                        ),
                        md="auto",
                    ),
                    dbc.Col(granularity_selector(GRANULARITY_ID, AUTO), md="auto"),
                ],
                className="mb-2 g-3",
            ),
            dcc.Loading(
                html.Div(
                    [
                        html.Div(id=HEAD_ID),
                        html.Div(
                            dbc.Row(
                                [
                                    dbc.Col(trend_card(TREND_GRAPH_ID, TREND_NOTE_ID), lg=8),
                                    dbc.Col(html.Div(id=DEFINITION_ID), lg=4),
                                ]
                            ),
                            id=DETAIL_ID,
                            hidden=True,
                        ),
                        html.Div(id=BREAKDOWN_ID),
                    ],
                    id=BODY_ID,
                ),
                delay_show=300,
            ),
        ]
    )


def utc_now() -> dt.datetime:
    return live.utc_now()


@dash.callback(
    Output(HEAD_ID, "children"),
    Output(DETAIL_ID, "hidden"),
    Output(TREND_GRAPH_ID, "figure"),
    Output(TREND_NOTE_ID, "children"),
    Output(DEFINITION_ID, "children"),
    Output(BREAKDOWN_ID, "children"),
    Output(LIVE.watch, "data"),
    Input(PARAMS_ID, "data"),
    Input(PERIOD_ID, "value"),
    Input(GRANULARITY_ID, "value"),
    Input(LIVE.token, "data"),
    State(LIVE.watch, "data"),
)
@guarded_callback(page=PAGE, on_error=refused)
def kpi_view(
    call: CallContext,
    params: object,
    period: object,
    granularity: object,
    _live: object = None,
    watch: object = None,
) -> KpiOutputs:
    """The page for the KPI, unit and period asked, within the user's scope.

    ``_live`` (the live token) only triggers a refresh; ``watch`` is what the page last drew:
    when a live refresh finds the same trend drawn, only the trend's data is sent.
    """
    request = parse_request(params, period, granularity)
    limits = QueryLimits.from_settings(current_services().settings)
    now = utc_now()
    cache = call_cache(call.principal)
    with lazy_connection() as connect:
        data = load_page(connect, cache, request, now, limits)
    call.rows = data.rows
    call.detail = {
        "kpi": data.kpi.key,
        "unit": data.unit.key,
        "period": request.period.value,
        "cached": cache.cached,
    }
    view = trend_view(data, request)
    patch = live.triggered(LIVE) and live.rendered_view(watch, call.principal, PAGE) == view
    metric_ids = data.kpi.metric_ids.values()
    state = live.watch_state(
        call.principal,
        PAGE,
        cache.metric_versions(metric_ids),
        now,
        metric_ids=metric_ids,
        view=view,
    )
    return outputs(data, request, now, patch=patch, watch=state)


@dash.callback(
    Output(NAVIGATE_ID, "href"),
    Input(BREAKDOWN_GRAPH_ID, "clickData"),
    State(PARAMS_ID, "data"),
    State(PERIOD_ID, "value"),
    prevent_initial_call=True,
)
@guarded_callback(page=PAGE, on_error=lambda _error: dash.no_update)
def open_clicked_unit(call: CallContext, click: object, params: object, period: object) -> Any:
    """A click on a bar opens that unit's KPI page (which checks the unit again)."""
    request = parse_request(params, period, None)
    points = click.get("points") if isinstance(click, dict) else None
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        return dash.no_update
    unit_key = checked_key(points[0].get("customdata"), "unit")
    return kpi_href(request.kpi_key, unit_key, request.period.value)


live.register_poll(LIVE, page=PAGE)
