"""The KPI page (level 2): trend, breakdown by child unit, definition, lineage and summary."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html
from sqlalchemy import Connection

from dashboard.auth.policy import (
    CallContext,
    authorize_unit,
    current_services,
    guarded_callback,
    read_connection,
)
from dashboard.components.breakdown import (
    breadcrumb,
    breakdown_card,
    breakdown_table,
    events_href,
    kpi_href,
)
from dashboard.components.lineage import definition_card
from dashboard.components.trend import granularity_selector, trend_card
from dashboard.figures.breakdown import breakdown_figure
from dashboard.figures.trend import references, trend_figure
from dashboard.summary import (
    AUTO,
    PERIOD_LABELS,
    PREVIOUS_LABELS,
    PeriodChoice,
    SummaryInput,
    UnitChange,
    auto_granularity,
    checked_key,
    format_value,
    parse_granularity,
    parse_period_choice,
    period_for,
    summarize,
)
from models.enums import Granularity
from models.facts import BUCKET_WIDTH
from models.permissions import AccessDenied, Principal
from models.queries.common import Period, QueryLimits
from models.queries.kpis import (
    KpiBreakdown,
    KpiDefinition,
    KpiSeries,
    KpiValue,
    UnknownKpi,
    kpi_breakdown,
    kpi_series,
    kpi_value,
    load_kpi,
)
from models.queries.lineage import KpiLineage, kpi_lineage
from models.queries.quality import Badge, grade_source, kpi_badge, source_facts
from models.queries.scope import Unit, root_units

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/kpi/<kpi_key>", name="KPI", title="Northstar — KPI", nav=False
)

PARAMS_ID = "kpi-params"
PERIOD_ID = "kpi-period"
GRANULARITY_ID = "kpi-granularity"
BODY_ID = "kpi-body"
SUMMARY_ID = "kpi-summary"
BREAKDOWN_GRAPH_ID = "kpi-breakdown-graph"
NAVIGATE_ID = "kpi-navigate"
NO_SUCH_KPI = "there is no KPI with that key"
DAY = dt.timedelta(days=1)


class KpiRequest(NamedTuple):
    """What the browser asked for, validated (not yet authorised).

    NamedTuples, not dataclasses: Dash runs page modules outside sys.modules, where
    dataclasses cannot resolve postponed annotations.
    """

    kpi_key: str
    unit: str | None
    period: PeriodChoice
    granularity: Granularity | None


class KpiPageData(NamedTuple):
    kpi: KpiDefinition
    unit: Unit
    trail: tuple[Unit, ...]
    period: Period
    granularity: Granularity
    value: KpiValue
    series: KpiSeries
    previous_series: KpiSeries
    breakdown: KpiBreakdown
    previous_breakdown: KpiBreakdown
    lineage: KpiLineage
    badges: dict[int, Badge]
    """Data-quality badge per source id."""
    badge: Badge
    """The KPI's badge: the worst of its sources'."""

    @property
    def rows(self) -> int:
        """How many values the page shows, for ``access_log``."""
        points = len(self.series.points) + len(self.previous_series.points)
        return 1 + points + len(self.breakdown.rows) + len(self.previous_breakdown.rows)


def parse_request(params: object, period: object, granularity: object) -> KpiRequest:
    """Validate the page's inputs; ValueError with a message fit for users otherwise."""
    if not isinstance(params, dict):
        raise ValueError("the page parameters are malformed")
    unit = params.get("unit")
    return KpiRequest(
        kpi_key=checked_key(params.get("kpi"), "KPI"),
        unit=None if unit in (None, "") else checked_key(unit, "unit"),
        period=parse_period_choice(period),
        granularity=parse_granularity(granularity),
    )


def scope_unit(connection: Connection, principal: Principal, unit: str | None) -> Unit:
    """The asked unit if in scope, else (when none asked) the first root of the scope."""
    if unit is not None:
        return authorize_unit(connection, principal, unit)
    roots = root_units(connection, principal)
    if not roots:
        raise AccessDenied("no org units are granted to you")
    return roots[0]


def scope_trail(connection: Connection, principal: Principal, unit: Unit) -> tuple[Unit, ...]:
    """The unit's ancestors that lie in scope, top first, then the unit: never above the
    scope root, because each ancestor is resolved through the scope check."""
    trail = []
    for ancestor_id in unit.path.split(".")[:-1]:
        try:
            trail.append(authorize_unit(connection, principal, int(ancestor_id)))
        except AccessDenied:
            continue
    return (*trail, unit)


def load_kpi_or_refuse(connection: Connection, principal: Principal, key: str) -> KpiDefinition:
    """The KPI; an unknown key is bad input (a clean message), not an error."""
    try:
        return load_kpi(connection, principal, key)
    except UnknownKpi:
        raise ValueError(NO_SUCH_KPI) from None


def load_page(
    connection: Connection,
    principal: Principal,
    request: KpiRequest,
    now: dt.datetime,
    limits: QueryLimits,
) -> KpiPageData:
    """Every read of the page, in one read-only transaction."""
    kpi = load_kpi_or_refuse(connection, principal, request.kpi_key)
    unit = scope_unit(connection, principal, request.unit)
    if unit.level not in kpi.levels:
        raise ValueError(f"{kpi.name} is not reported at the {unit.level.value} level")
    period = period_for(request.period, now)
    granularity = request.granularity or auto_granularity(period)
    series = kpi_series(connection, principal, kpi, unit.id, period, granularity, limits=limits)
    facts = source_facts(connection, kpi.source_ids, now=now)
    return KpiPageData(
        kpi=kpi,
        unit=unit,
        trail=scope_trail(connection, principal, unit),
        period=period,
        granularity=granularity,
        value=kpi_value(connection, principal, kpi, unit.id, period),
        series=series,
        previous_series=kpi_series(
            connection, principal, kpi, unit.id, period.previous, granularity, limits=limits
        ),
        breakdown=kpi_breakdown(connection, principal, kpi, unit.id, period, limits=limits),
        previous_breakdown=kpi_breakdown(
            connection, principal, kpi, unit.id, period.previous, limits=limits
        ),
        lineage=kpi_lineage(connection, principal, kpi, now),
        badges={source_id: grade_source(f, now) for source_id, f in facts.items()},
        badge=kpi_badge(kpi.source_ids, facts, now),
    )


def page_summary(data: KpiPageData, choice: PeriodChoice, now: dt.datetime) -> str:
    before = {row.unit.id: row.value for row in data.previous_breakdown.rows}
    return summarize(
        SummaryInput(
            kpi_name=data.kpi.name,
            value=data.value.value,
            previous=data.value.previous_value,
            direction=data.kpi.direction,
            previous_label=PREVIOUS_LABELS[choice],
            fmt=data.kpi.format,
            unit=data.kpi.unit,
            target=data.kpi.target,
            period_length=data.period.length if data.kpi.formula.is_additive else None,
            children=[
                UnitChange(row.unit.name, row.value, before.get(row.unit.id))
                for row in data.breakdown.rows
            ],
            late_sources=[s.name for s in data.lineage.sources if s.is_late(now)],
            quality_reasons=data.badge.reasons,
        )
    )


def header(data: KpiPageData, choice: PeriodChoice, now: dt.datetime) -> html.Div:
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
            dcc.Link(
                "See the events behind this number →",
                href=events_href(kpi.key, data.unit.key, choice.value),
            ),
        ],
        className="mb-3",
    )


def body(data: KpiPageData, request: KpiRequest, now: dt.datetime) -> html.Div:
    """The page below the controls, from what was read (pure)."""
    kpi, choice = data.kpi, request.period
    trend = trend_figure(
        data.series,
        data.previous_series,
        title=f"{kpi.name} over time",
        unit=kpi.unit,
        lines=references(
            kpi.target,
            kpi.warn_threshold,
            kpi.crit_threshold,
            scale=BUCKET_WIDTH[data.granularity] / DAY if kpi.formula.is_additive else None,
        ),
    )
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
    figure = (
        breakdown_figure(data.breakdown.rows, title=f"{kpi.name} by unit", unit=kpi.unit)
        if data.breakdown.rows
        else None
    )
    return html.Div(
        [
            breadcrumb(data.trail, kpi.key, choice.value),
            header(data, choice, now),
            dbc.Row(
                [
                    dbc.Col(trend_card(trend, data.granularity, request.granularity is None), lg=8),
                    dbc.Col(definition_card(kpi, data.lineage, now, data.badges), lg=4),
                ]
            ),
            breakdown_card(figure, table, BREAKDOWN_GRAPH_ID),
        ]
    )


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
            dcc.Loading(html.Div(id=BODY_ID), delay_show=300),
        ]
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dash.callback(
    Output(BODY_ID, "children"),
    Input(PARAMS_ID, "data"),
    Input(PERIOD_ID, "value"),
    Input(GRANULARITY_ID, "value"),
)
@guarded_callback(page="kpi")
def kpi_view(call: CallContext, params: object, period: object, granularity: object) -> Any:
    """The whole page body for the KPI, unit and period asked, within the user's scope."""
    request = parse_request(params, period, granularity)
    limits = QueryLimits.from_settings(current_services().settings)
    now = utc_now()
    with read_connection() as connection:
        data = load_page(connection, call.principal, request, now, limits)
    call.rows = data.rows
    call.detail = {"kpi": data.kpi.key, "unit": data.unit.key, "period": request.period.value}
    return body(data, request, now)


@dash.callback(
    Output(NAVIGATE_ID, "href"),
    Input(BREAKDOWN_GRAPH_ID, "clickData"),
    State(PARAMS_ID, "data"),
    State(PERIOD_ID, "value"),
    prevent_initial_call=True,
)
@guarded_callback(page="kpi", on_error=lambda _error: dash.no_update)
def open_clicked_unit(call: CallContext, click: object, params: object, period: object) -> Any:
    """A click on a bar opens that unit's KPI page (which checks the unit again)."""
    request = parse_request(params, period, None)
    points = click.get("points") if isinstance(click, dict) else None
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        return dash.no_update
    unit_key = checked_key(points[0].get("customdata"), "unit")
    return kpi_href(request.kpi_key, unit_key, request.period.value)
