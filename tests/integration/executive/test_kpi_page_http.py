"""The KPI page through HTTP, as an attacker would post it (the world is ``kpi_support``'s)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from integration.auth_support import page_request
from integration.executive.kpi_support import GLOBAL, REGIONAL, World, post_kpi, world

__all__ = ["world"]  # fixture


# --- through HTTP ---------------------------------------------------------------------------


def test_http_the_page_answers_a_signed_in_user(world: World) -> None:
    response = post_kpi(world.client(GLOBAL), {"kpi": "revenue", "unit": "unit2"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    assert "Revenue is up" in body
    assert "UNIT2-DE" in body


@pytest.mark.parametrize(
    "params",
    [
        {"kpi": "revenue", "unit": "unit3"},
        {"kpi": "revenue", "unit": "acme"},
        {"kpi": "revenue", "unit": 3},
        {"kpi": "revenue", "unit": {"$ne": None}},
        {"kpi": "tickets' UNION SELECT email FROM users --", "unit": "unit3"},
        [1, 2, 3],
        None,
    ],
)
def test_http_forged_inputs_from_a_regional_executive_reveal_nothing(
    world: World, params: object
) -> None:
    response = post_kpi(world.client(REGIONAL), params)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    assert '"role": "alert"' in body.replace('":"', '": "')
    assert "UNIT3" not in body
    assert "UNIT2-DE" not in body
    assert "Traceback" not in body
    assert "example.com" not in body


def test_http_wrong_period_types_are_clean_errors_not_500(world: World) -> None:
    client = world.client(GLOBAL)
    for period in (["7d"], {"a": 1}, 10**30, "7d' OR 1=1"):
        response = post_kpi(client, {"kpi": "revenue"}, period)
        assert response.status_code == 200
        assert "Invalid input: period must be one of" in response.get_data(as_text=True)


def test_http_anonymous_callback_is_refused(world: World) -> None:
    response = post_kpi(world.client(), {"kpi": "revenue"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


def _route(client: FlaskClient, pathname: str, search: str) -> str:
    response = client.post("/_dash-update-component", json=page_request(pathname, search))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_http_the_kpi_and_events_urls_carry_their_parameters_to_the_callbacks(
    world: World,
) -> None:
    client = world.client(GLOBAL)
    kpi_page = _route(client, "/kpi/revenue", "?unit=unit2&period=30d")
    assert '"data":{"kpi":"revenue","unit":"unit2"}' in kpi_page
    assert '"value":"30d"' in kpi_page
    events_page = _route(client, "/events", "?kpi=revenue&unit=unit2&period=1h")
    assert '"data":{"kpi":"revenue","unit":"unit2","period":"1h"}' in events_page
    assert "events-grid" in events_page
