"""The events page's world (the KPI page's, with more orders, a ticket and a KPI viewer) and
the requests its grid posts.

The grid's header sort and column filters arrive as ag-grid's ``getRowsRequest``; here they
are posted as the browser posts them (shapes captured from dash-ag-grid 35 in Chromium).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from integration.auth_support import ACTOR, PASSWORD
from integration.executive.kpi_support import NOW, ORDERS, TICKETS, World
from integration.executive.kpi_support import make_world as make_kpi_world
from models.accounts import RoleSpec, UserSpec, create_user, upsert_role
from models.permissions import Permission
from models.settings import Settings
from models.writes import EventRow, write_events

PAGE_MAX = 3
VIEWER = "vic@example.com"
# Orders beyond kpi_support's o0 … o4: (id, age, unit, amount, channel). Units: acme 1,
# unit2 2 (its country unit2-de 4), unit3 3.
MORE_ORDERS = [
    ("o5", dt.timedelta(minutes=30), 2, 50.0, "app"),
    ("o6", dt.timedelta(hours=3), 4, 300.0, "store"),
    ("o7", dt.timedelta(days=2), 3, 75.0, "app"),
    ("o8", dt.timedelta(days=4), 4, 20.0, "web_shop"),
]
# Revenue over the last 7 days, by amount: the 7 orders in the company.
BY_AMOUNT = ["o8", "o5", "o7", "o0", "o2", "o1", "o6"]
IN_UNIT2 = {"o0", "o1", "o5", "o6", "o8"}


def _more_events(engine: Engine) -> None:
    rows = [
        EventRow(
            NOW - age,
            ORDERS,
            event_id,
            unit,
            {"amount": amount},
            {"channel": channel},
            {"email": f"buyer{event_id[1:]}@example.com", "margin": "thin"},
        )
        for event_id, age, unit, amount, channel in MORE_ORDERS
    ]
    # The tickets source has no contract: its channel and e-mail are declared nowhere.
    rows.append(
        EventRow(
            NOW - dt.timedelta(hours=1),
            TICKETS,
            "t3",
            2,
            {},
            {"channel": "web"},
            {"email": "ticket@example.com"},
        )
    )
    write_events(engine, rows)


def make_world(db: Engine, settings: Settings) -> Iterator[World]:
    for built in make_kpi_world(db, settings):
        with Session(db) as session, session.begin():
            role = RoleSpec("viewer", "KPI viewer", frozenset({Permission.KPI_VIEW}))
            upsert_role(session, role, ACTOR)
            spec = UserSpec(VIEWER, "Vic Viewer", ("viewer",), ("acme",))
            built.user_ids[VIEWER] = create_user(session, spec, PASSWORD, ACTOR).id
        _more_events(db)
        yield built


@pytest.fixture
def world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    yield from make_world(db, settings.model_copy(update={"events_page_max": PAGE_MAX}))


@pytest.fixture
def tight_world(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    capped = settings.model_copy(update={"events_page_max": PAGE_MAX, "query_row_limit": 5})
    yield from make_world(db, capped)


def grid_request(
    start: int = 0,
    size: int = PAGE_MAX,
    sort: list[tuple[str, str]] | None = None,
    filters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A block request as dash-ag-grid 35 posts it (the default: newest first)."""
    return {
        "startRow": start,
        "endRow": start + size,
        "sortModel": [
            {"sort": direction, "type": "default", "colId": column}
            for column, direction in (sort if sort is not None else [("ts", "desc")])
        ],
        "filterModel": filters or {},
        "api": {},
    }


def text_filter(value: object, op: str = "equals") -> dict[str, Any]:
    return {"filterType": "text", "type": op, "filter": value}


def number_filter(op: str, value: float, to: float | None = None) -> dict[str, Any]:
    return {"filterType": "number", "type": op, "filter": value, "filterTo": to}


def grid_time(moment: dt.datetime) -> str:
    """A moment as ag-grid's date filter sends it (the picked wall-clock time, read as UTC)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def rows_of(
    request: object = None, kpi: object = "revenue", unit: object = None, period: object = "7d"
) -> tuple[dict[str, Any], Any]:
    """(getRowsResponse, status) of one block, the callback called as a plain function."""
    from dashboard.executive.pages import events

    params = {"kpi": kpi, "unit": unit, "period": period}
    response, status = events.events_rows(grid_request() if request is None else request, params)
    return response, status


def ids(response: dict[str, Any]) -> list[str]:
    return [row["event_id"] for row in response["rowData"]]


def walk(
    world: World, email: str, kpi: str = "revenue", **request: Any
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Every block the grid would fetch page by page: (all rows, row count of each block)."""
    rows: list[dict[str, Any]] = []
    counts = []
    with world.signed_in(email):
        for start in range(0, 30, PAGE_MAX):
            response, _ = rows_of(grid_request(start, **request), kpi)
            rows += response["rowData"]
            counts.append(response.get("rowCount"))
            if "rowCount" in response:
                break
    return rows, counts


def event_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM events")).scalar_one())


def last_access(engine: Engine, user_id: int) -> tuple[str, str, dict[str, Any]]:
    """(action, outcome, detail) of the user's newest events-page ``access_log`` row."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT action, outcome, detail FROM access_log "
                "WHERE user_id = :user AND page = 'events' ORDER BY id DESC LIMIT 1"
            ),
            {"user": user_id},
        ).one()
    return str(row[0]), str(row[1]), dict(row[2])
