"""The read API for an executive scoped to EMEA: her numbers, her scope, errors, the log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from integration.read_api.support import GLOBAL, NOBODY, PERSONAL, REGIONAL, World, build
from models.enums import Outcome
from models.logs import AccessLog
from models.settings import Settings


def ok(world: World, token: str, path: str, **query: Any) -> dict[str, Any]:
    response = world.get(token, path, **query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json
    assert PERSONAL not in response.text
    return body


def refused(world: World, token: str, path: str, status: int, **query: Any) -> dict[str, Any]:
    response = world.get(token, path, **query)
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.json
    assert set(body) >= {"error", "reason"}
    return body


def api_log(engine: Engine) -> list[AccessLog]:
    with Session(engine) as session:
        return list(session.scalars(select(AccessLog).where(AccessLog.page == "api")))


def test_the_list_shows_her_region_with_the_kpis_reported_there(busy: World) -> None:
    body = ok(busy, busy.token(), "/kpis", period="1h")

    assert body["unit"] == {"key": "emea", "name": "EMEA", "level": "region"}
    assert body["period"]["key"] == "1h"
    kpis = {k["key"]: k for k in body["kpis"]}
    assert set(kpis) == {"revenue", "orders"}  # group_cash is reported at company level only
    assert kpis["revenue"]["value"] == pytest.approx(600.0)
    assert kpis["revenue"]["previous_value"] == pytest.approx(400.0)
    assert kpis["orders"]["value"] == pytest.approx(3)
    # 3 orders in about an hour: under half of EMEA's plan of 200 a day, pro-rated (8.3).
    assert kpis["orders"]["status"] == "critical"


def test_one_kpi_has_value_change_target_status_badge_and_time(busy: World) -> None:
    body = ok(busy, busy.token(), "/kpis/revenue", unit="de", period="1h")

    assert body["unit"]["key"] == "de"
    assert body["value"] == pytest.approx(600.0)
    assert body["previous_value"] == pytest.approx(400.0)
    assert body["change"]["absolute"] == pytest.approx(200.0)
    assert body["change"]["percent"] == pytest.approx(50.0)
    # EMEA's monthly plan, 15,000 EUR a day, split equally (Germany is its only country) and
    # pro-rated over the hour (which ends at the end of the current minute: up to 10 EUR more).
    assert 625.0 <= body["target"] <= 636.0
    assert body["target_basis"] == "equal"
    assert "EMEA" in body["target_explanation"]
    # 600 EUR is 96 % of it: under the warning line (97 %), over the critical one (50 %).
    assert body["status"] == "warning"
    assert body["quality"]["level"] in {"ok", "warning", "failing"}
    assert isinstance(body["quality"]["reasons"], list)
    as_of = dt.datetime.fromisoformat(body["as_of"])
    assert abs(as_of - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_the_series_and_the_breakdown_of_her_region(busy: World) -> None:
    token = busy.token()
    series = ok(busy, token, "/kpis/revenue/series", unit="emea", period="1h", granularity="minute")
    assert series["granularity"] == "minute"
    assert series["total"] == pytest.approx(600.0)
    assert sum(p["value"] or 0 for p in series["points"]) == pytest.approx(600.0)
    start = (busy.now - dt.timedelta(hours=2)).isoformat()
    end = busy.now.isoformat()
    wide = ok(busy, token, "/kpis/revenue/series", unit="de", **{"from": start, "to": end})
    assert wide["total"] == pytest.approx(1000.0)
    assert wide["granularity"] == "minute"  # auto: minutes up to 3 hours

    breakdown = ok(busy, token, "/kpis/revenue/breakdown", unit="emea", period="1h")
    rows = {r["unit"]["key"]: r for r in breakdown["rows"]}
    assert set(rows) == {"de"}  # her region's children only
    assert rows["de"]["value"] == pytest.approx(600.0)
    assert rows["de"]["previous_value"] == pytest.approx(400.0)


@pytest.mark.parametrize(
    "path", ["/kpis", "/kpis/revenue", "/kpis/revenue/series", "/kpis/revenue/breakdown"]
)
def test_a_unit_outside_her_scope_is_refused_by_name(busy: World, path: str) -> None:
    body = refused(busy, busy.token(), path, 403, unit="us")

    assert body["error"] == "forbidden"
    assert "'us'" in body["reason"]
    assert "100" not in str(body)


def test_the_global_executive_sees_what_the_regional_one_may_not(busy: World) -> None:
    body = ok(busy, busy.token(GLOBAL), "/kpis/revenue", unit="us", period="1h")
    assert body["value"] == pytest.approx(100.0)


def test_bad_requests_name_what_was_wrong(busy: World) -> None:
    token = busy.token()
    assert refused(busy, token, "/kpis/nope", 404)["error"] == "not_found"
    assert refused(busy, token, "/kpis/nope/series", 404)["error"] == "not_found"
    for path, query, parameter in [
        ("/kpis", {"period": "2y"}, "period"),
        ("/kpis/revenue", {"period": "week"}, "period"),
        ("/kpis/revenue/series", {"granularity": "second"}, "granularity"),
        ("/kpis/revenue/series", {"period": "30d", "granularity": "minute"}, "granularity"),
        ("/kpis/revenue/series", {"from": "2026-01-01T00:00Z"}, "to"),
        ("/kpis/revenue/series", {"from": "yesterday", "to": "2026-01-01T00:00Z"}, "from"),
        ("/kpis/revenue/series", {"from": "2026-01-01T00:00", "to": "2026-01-02T00:00"}, "from"),
        ("/kpis/group_cash", {}, "unit"),  # not reported at region level
    ]:
        body = refused(busy, token, path, 400, **query)
        assert body["parameter"] == parameter, (path, query, body)


def test_only_get_is_answered(world: World) -> None:
    response = world.client().post("/api/v1/kpis", headers={"Authorization": "Bearer x"})

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.json["error"] == "method_not_allowed"


def test_a_user_without_kpi_view_is_refused(busy: World) -> None:
    body = refused(busy, busy.token(NOBODY), "/kpis", 403)
    assert "kpi:view" in body["reason"]


def test_every_read_and_refusal_is_in_the_access_log(busy: World) -> None:
    token = busy.token()
    ok(busy, token, "/kpis/revenue", unit="de", period="1h")
    refused(busy, token, "/kpis/revenue", 403, unit="us")
    refused(busy, "nsp_00000000_wrong", "/kpis", 401)

    entries = api_log(busy.engine)
    assert [(e.action, e.outcome) for e in entries] == [
        ("GET /api/v1/kpis/<key>", Outcome.OK),
        ("GET /api/v1/kpis/<key>", Outcome.DENIED),
    ]  # an unknown token is anonymous: not logged, like the pages' anonymous 401s
    read, denied = entries
    assert read.user_id == busy.users[REGIONAL]
    assert read.scope == [f"{busy.units['group']}.{busy.units['emea']}"]
    assert read.detail["kpi"] == "revenue"
    assert read.detail["unit"] == "de"
    assert read.rows == 1
    assert denied.user_id == busy.users[REGIONAL]
    assert "'us'" in denied.detail["refused"]


@pytest.fixture
def strict(db: Engine, redis_client: redis.Redis, settings: Settings) -> Iterator[World]:
    yield from build(db, settings.model_copy(update={"rate_limit": "3/minute"}))


def test_her_request_budget_is_the_pages_and_answers_429(strict: World) -> None:
    token = strict.token()
    for _ in range(3):
        ok(strict, token, "/kpis")

    response = strict.get(token, "/kpis")

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["error"] == "throttled"
    assert api_log(strict.engine)[-1].outcome is Outcome.THROTTLED
    other = strict.token(GLOBAL)  # another user's budget is untouched
    ok(strict, other, "/kpis")


def test_the_openapi_document_describes_the_read_api(world: World) -> None:
    document = world.client().get("/api/v1/openapi.json").json
    paths = document["paths"]
    for path in ("/kpis", "/kpis/{key}", "/kpis/{key}/series", "/kpis/{key}/breakdown"):
        answers = paths[path]["get"]["responses"]
        assert {"200", "400", "401", "403", "429"} <= set(answers), path
    assert "404" in paths["/kpis/{key}"]["get"]["responses"]
    assert "/sources/{source_key}/events" in paths  # the ingest API is still there
    assert document["components"]["securitySchemes"]["accessToken"]["scheme"] == "bearer"
