"""The callback requests of the pages the dashboard benchmark drives, as the browser posts them.

- Overview tiles (``dashboard/executive/pages/overview.py`` ``update_tiles``): period, unit.
- KPI page body (``dashboard/executive/pages/kpi.py`` ``kpi_view``): the page's parameters
  (KPI, unit), period and granularity ``auto``; opening the page first posts the page
  router's callback (``_pages_content``) for ``/kpi/<key>?unit=…&period=…``, as a click on
  a link does.
- Events grid (``dashboard/executive/pages/events.py`` ``events_rows``): one block of 100 rows
  of the infinite row model, no sort or filter, for a KPI, unit and period.

Each is built from the callbacks the app declares (``/_dash-dependencies``); the live-refresh
token and the last-drawn state are empty, as on a first draw.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.dashboard_http import DEPENDENCIES_PATH, Browser, Callback, Prop, find_callback

OVERVIEW_GRID: Prop = ("overview-grid", "children")
KPI_HEAD: Prop = ("kpi-head", "children")
EVENTS_ROWS: Prop = ("events-grid", "getRowsResponse")
PAGE_CONTENT: Prop = ("_pages_content", "children")
OVERVIEW_PERIOD: Prop = ("overview-period", "value")
OVERVIEW_UNIT: Prop = ("overview-unit", "value")
KPI_PARAMS: Prop = ("kpi-params", "data")
KPI_PERIOD: Prop = ("kpi-period", "value")
KPI_GRANULARITY: Prop = ("kpi-granularity", "value")
EVENTS_PARAMS: Prop = ("events-params", "data")
EVENTS_REQUEST: Prop = ("events-grid", "getRowsRequest")
LOCATION_PATH: Prop = ("_pages_location", "pathname")
LOCATION_SEARCH: Prop = ("_pages_location", "search")
PERIODS = ("1h", "today", "7d", "30d")
"""The periods both the Overview and the KPI page offer (same keys)."""
EVENTS_BLOCK = 100
"""Rows per block the grid asks for (``dashboard/executive/events_grid.py``)."""


@dataclass(frozen=True, slots=True)
class Pages:
    """The four callbacks, found in the running app's dependencies."""

    overview: Callback
    kpi: Callback
    events_rows: Callback
    router: Callback

    @classmethod
    def discover(cls, browser: Browser) -> Pages:
        dependencies: Sequence[dict[str, Any]] = browser.get_json(DEPENDENCIES_PATH)
        return cls(
            overview=find_callback(dependencies, OVERVIEW_GRID),
            kpi=find_callback(dependencies, KPI_HEAD),
            events_rows=find_callback(dependencies, EVENTS_ROWS),
            router=find_callback(dependencies, PAGE_CONTENT),
        )

    def overview_body(
        self, period: str, unit: str, changed: Prop = OVERVIEW_UNIT
    ) -> dict[str, Any]:
        values = {OVERVIEW_PERIOD: period, OVERVIEW_UNIT: unit}
        return self.overview.body(values, [changed])

    def kpi_body(self, kpi: str, unit: str, period: str) -> dict[str, Any]:
        values = {
            KPI_PARAMS: {"kpi": kpi, "unit": unit},
            KPI_PERIOD: period,
            KPI_GRANULARITY: "auto",
        }
        return self.kpi.body(values, [KPI_PARAMS])

    def kpi_open_body(self, kpi: str, unit: str, period: str) -> dict[str, Any]:
        """The page router's request when the browser navigates to the KPI page."""
        search = "?" + urllib.parse.urlencode({"unit": unit, "period": period})
        values = {LOCATION_PATH: f"/kpi/{kpi}", LOCATION_SEARCH: search}
        return self.router.body(values, [LOCATION_PATH])

    def events_body(self, kpi: str, unit: str, period: str, block: int) -> dict[str, Any]:
        start = block * EVENTS_BLOCK
        values = {
            EVENTS_REQUEST: {
                "startRow": start,
                "endRow": start + EVENTS_BLOCK,
                "sortModel": [],
                "filterModel": {},
            },
            EVENTS_PARAMS: {"kpi": kpi, "unit": unit, "period": period},
        }
        return self.events_rows.body(values, [EVENTS_REQUEST])
