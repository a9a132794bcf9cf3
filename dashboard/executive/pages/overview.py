"""The Overview page (level 1): one tile per KPI of the chosen unit and period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, html
from sqlalchemy import Connection

from dashboard.auth.policy import (
    CallContext,
    UserFacingError,
    current_principal,
    current_services,
    error_view,
    guarded_callback,
    read_connection,
)
from dashboard.cache import CallCache, call_cache, catalog, reads
from dashboard.cache.lazy import Connect, lazy_connection
from dashboard.cache.targets import kpi_targets
from dashboard.executive.selectors import (
    DEFAULT_PERIOD,
    PERIODS,
    PeriodChoice,
    period_choice,
    period_for,
    period_selector,
    scope_selector,
)
from dashboard.executive.tiles import TileData, kpi_href, tile_grid
from dashboard.shell import live
from models.enums import OrgLevel
from models.judging import judge
from models.permissions import AccessDenied, Permission, Principal
from models.queries.executive.definitions import KpiDefinition
from models.queries.executive.numbers import KpiValue
from models.queries.scope import Unit, child_units, root_units
from models.queries.steward.quality import Badge, kpi_badge
from models.target_rules import Target

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/", name="Overview", title="Northstar · Overview", order=0
)

PAGE = "overview"
PERIOD_ID = "overview-period"
UNIT_ID = "overview-unit"
GRID_ID = "overview-grid"
LIVE = live.LiveIds.for_page(PAGE)
_DESCEND = (OrgLevel.COMPANY, OrgLevel.REGION)
"""The scope selector lists a unit's children while the unit is above country level."""


def scope_units(connection: Connection, principal: Principal) -> list[Unit]:
    """The principal's own subtrees: each root, then its descendants down to country level."""
    found: list[Unit] = []

    def visit(unit: Unit) -> None:
        found.append(unit)
        if unit.level in _DESCEND:
            for child in child_units(connection, principal, unit, active_only=True):
                visit(child)

    for root in root_units(connection, principal):
        visit(root)
    return found


def _initial(value: object, allowed: Sequence[str], default: str | None) -> str | None:
    """A query-string value, only if it is one of the offered options."""
    return value if isinstance(value, str) and value in allowed else default


def layout(unit: object = None, period: object = None, **_query: Any) -> html.Div:
    """The selectors (only the user's own units) and an empty grid the callback fills."""
    try:
        principal = current_principal()
        principal.require(Permission.KPI_VIEW)
    except AccessDenied as exc:
        return html.Div(f"Not allowed: {exc}.", className="alert alert-warning")
    with read_connection() as connection:
        units = scope_units(connection, principal)
    keys = [u.key for u in units]
    return view(
        units,
        _initial(unit, keys, keys[0] if keys else None),
        _initial(period, list(PERIODS), DEFAULT_PERIOD) or DEFAULT_PERIOD,
        current_services().settings.live_poll_ms,
    )


def view(
    units: Sequence[Unit], unit_key: str | None, period_key: str, poll_ms: int = 0
) -> html.Div:
    """The page around the tiles (pure: no I/O)."""
    controls = dbc.Row(
        [
            dbc.Col(html.H1("Overview", className="h3 mb-0"), xs=12, lg="auto"),
            dbc.Col(period_selector(PERIOD_ID, period_key), xs=12, md="auto"),
            dbc.Col(scope_selector(UNIT_ID, units, unit_key), xs=12, md=4, lg=3),
        ],
        className="g-2 align-items-center justify-content-between mb-3",
    )
    grid = dash.dcc.Loading(html.Div(id=GRID_ID), type="dot", delay_show=300)
    return html.Div([controls, grid, live.live_refresh(LIVE, poll_ms)])


def visible_kpis(kpis: Sequence[KpiDefinition], unit: Unit) -> list[KpiDefinition]:
    """The KPIs shown at ``unit``'s level of the hierarchy."""
    return [kpi for kpi in kpis if unit.level in kpi.levels]


def _tile(
    kpi: KpiDefinition,
    value: KpiValue,
    series: tuple[tuple[dt.datetime, ...], tuple[float | None, ...]],
    badge: Badge,
    unit: Unit,
    choice: PeriodChoice,
    target: Target,
) -> TileData:
    return TileData(
        key=kpi.key,
        name=kpi.name,
        value=value.value,
        previous=value.previous_value,
        unit=kpi.unit,
        format=kpi.format,
        direction=kpi.direction,
        judgement=judge(value.value, target, kpi.direction),
        times=series[0],
        values=series[1],
        badge=badge,
        href=kpi_href(kpi.key, unit.key, choice.key),
    )


def overview_tiles(
    connect: Connect,
    cache: CallCache,
    kpis: Sequence[KpiDefinition],
    unit: Unit,
    choice: PeriodChoice,
    now: dt.datetime,
) -> list[TileData]:
    """The tiles of ``kpis`` for ``unit`` over the period ``choice`` means at ``now``.

    The numbers, targets and source facts come through the answer cache (``dashboard.cache``),
    all looked up at once; the statuses and badges are computed from them with the exact
    ``now``. Each KPI is judged against the unit's own target for the period.
    """
    if not kpis:
        return []
    period = period_for(choice, now)
    series = reads.kpi_series_set(cache, connect, kpis, unit, period, choice.granularity, now=now)
    previous = reads.kpi_totals(cache, connect, kpis, unit, period.previous, now=now)
    facts = reads.sources_facts(cache, connect, {s for k in kpis for s in k.source_ids}, now)
    targets = kpi_targets(cache, connect, kpis, unit, period, now)
    found = facts.get()
    tiles = []
    rows = zip(kpis, series.get(), previous.get(), targets.get(), strict=True)
    for kpi, answer, before, target in rows:
        value = KpiValue(kpi.key, unit, period, answer.total, period.previous, before)
        xy = (tuple(p.start for p in answer.points), tuple(p.value for p in answer.points))
        badge = kpi_badge(kpi.source_ids, found, now)
        tiles.append(_tile(kpi, value, xy, badge, unit, choice, target))
    return tiles


def _refused(error: UserFacingError) -> tuple[html.Div, str | None]:
    # A page showing a refusal stops refreshing itself; the next choice of the user restarts it.
    return error_view(error), None


@dash.callback(
    Output(GRID_ID, "children"),
    Output(LIVE.watch, "data"),
    Input(PERIOD_ID, "value"),
    Input(UNIT_ID, "value"),
    Input(LIVE.token, "data"),
)
@guarded_callback(page=PAGE, permission=Permission.KPI_VIEW, on_error=_refused)
def update_tiles(
    call: CallContext, /, period: object, unit: object, _live: object = None
) -> tuple[html.Div, str | None]:
    """The tile grid for a period key and a unit key, both untrusted browser input; and what
    the live refresh watches (the metrics of the tiles shown). ``_live`` only triggers."""
    choice = period_choice(period)
    now = live.utc_now()
    cache = call_cache(call.principal)
    with lazy_connection() as connect:
        asked = catalog.scope_unit(cache, connect, unit, now)
        definitions = catalog.kpi_definitions(cache, connect, now)
        scope_unit = asked.get()
        kpis = visible_kpis(definitions.get(), scope_unit)
        tiles = overview_tiles(connect, cache, kpis, scope_unit, choice, now)
    metric_ids = {m for kpi in kpis for m in kpi.metric_ids.values()}
    call.rows = len(tiles)
    call.detail = {"unit": scope_unit.key, "period": choice.key, "cached": cache.cached}
    caption = f"{choice.label} · {scope_unit.name} · as of {now:%H:%M} UTC"
    grid = html.Div([html.P(caption, className="text-secondary small mb-2"), tile_grid(tiles)])
    watch = live.watch_state(
        call.principal, PAGE, cache.metric_versions(metric_ids), now, metric_ids=metric_ids
    )
    return grid, watch


live.register_poll(LIVE, page=PAGE)
