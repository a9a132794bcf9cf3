"""Non-admins (and an admin of another region) posting forged admin source callbacks: every
one is refused, logged as denied, and nothing changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from dashboard.admin.source_params import digest
from integration.admin.test_admin_sources import (
    PLAINTEXT,
    create,
    key_of,
    keys,
    listing,
    new_key,
    option_value,
    order,
    revoke,
    save_settings,
    view,
)
from integration.admin.test_admin_sources_contract import check, save, version_two
from integration.admin_data_support import ADA, EVE, NORA, REX, SAM, World, text_of, world
from integration.drain_support import services

__all__ = ["services", "world"]  # fixtures


def state(world: World) -> dict[str, Any]:
    """Everything an admin action could change."""
    with world.engine.connect() as connection:
        orders = connection.execute(
            text(
                "SELECT freshness_sla_s, expected_volume_per_15m, retention_days, steward_id "
                "FROM sources WHERE key = 'orders'"
            )
        ).one()
        revoked = connection.execute(
            text("SELECT count(*) FROM source_api_keys WHERE revoked_at IS NOT NULL")
        ).scalar_one()
    return {
        "sources": world.count("sources"),
        "keys": world.count("source_api_keys"),
        "revoked": revoked,
        "contracts": world.count("source_contracts"),
        "metrics": world.count("metrics"),
        "audit": world.audit_total(),
        "orders": tuple(orders),
    }


def attempts(world: World, client: FlaskClient, west: int) -> list[dict[str, Any]]:
    """Every admin action on ``orders`` (owned by the company), with valid-looking values."""
    typed = json.dumps(version_two())
    forged_preview = {"source": "orders", "base": 1, "digest": digest(typed)}
    return [
        listing(client),
        view(client, "orders"),
        keys(client, "orders"),
        create(client, key="forged", owner=west, sla=60),
        save_settings(client, "orders", 1, 1, 1, None),
        new_key(client, "orders", "forged"),
        revoke(client, "orders", key_of(world, "orders")),
        check(client, typed, 1),
        save(client, typed, 1, forged_preview),
    ]


@pytest.mark.parametrize("email", [EVE, SAM, NORA])
def test_non_admins_posting_admin_source_callbacks_change_nothing(world: World, email: str) -> None:
    west = option_value(listing(world.client(ADA))[("admin-sources-owner")]["options"], "(west)")
    before = state(world)
    logged_before = world.count("access_log")
    answers = attempts(world, world.client(email), west)
    for answer in answers:
        shown = text_of(answer)
        assert "Not allowed: missing permission source:manage" in shown, shown[:300]
        assert not PLAINTEXT.search(shown)
        assert "would pass" not in shown
    assert state(world) == before
    with world.engine.connect() as connection:
        denied = connection.execute(
            text(
                "SELECT count(*) FROM access_log WHERE user_id = :user AND outcome = 'denied' "
                "AND page LIKE 'admin-source%'"
            ),
            {"user": world.users[email]},
        ).scalar_one()
    assert denied == len(answers)
    assert world.count("access_log") >= logged_before + len(answers)
    assert world.ingest("orders", [order("still-1")]).status_code == 202


def test_an_admin_of_another_region_cannot_touch_a_source_outside_it(world: World) -> None:
    west = option_value(listing(world.client(ADA))["admin-sources-owner"]["options"], "(west)")
    before = state(world)
    answers = attempts(world, world.client(REX), west)
    assert "Orders" not in text_of(answers[0])
    for answer in answers[1:]:
        shown = text_of(answer)
        assert "Not allowed: no such" in shown, shown[:300]
        assert not PLAINTEXT.search(shown)
    assert state(world) == before
