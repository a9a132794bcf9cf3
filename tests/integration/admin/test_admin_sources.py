"""The admin source pages through HTTP: a source created and its settings edited (audited with
before and after), API keys shown once, stored hashed and refused at once when revoked, and
their last use recorded at most once a minute."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dashboard.admin.source_forms import LIST_IDS, SOURCE_IDS
from dashboard.app import create_app
from ingest.sources_cache import KEY_USED_PREFIX, USE_INTERVAL_S
from integration.admin_data_support import ADA, EVE, EVENT_TS, REX, SAM, World, post, text_of, world
from integration.auth_support import FakeClock
from integration.drain_support import TEST_SETTINGS, services
from integration.steward.test_steward_sources import table_rows
from models.api_keys import hash_key
from models.settings import Settings
from models.sources import Source, SourceApiKey

__all__ = ["services", "world"]  # fixtures

L, S = LIST_IDS, SOURCE_IDS
LIST_OUT = [(L["list"], "children"), (L["owner"], "options"), (L["steward"], "options")]
CREATE_OUT = [(L["create-note"], "children"), (L["created"], "data")]
CREATE_STATE = [
    (L[name], "value")
    for name in (
        "key",
        "name",
        "owner",
        "steward",
        "refresh",
        "sla",
        "volume",
        "retention",
        "sensitivity",
        "description",
    )
]
VIEW_OUT = [
    (S["head"], "children"),
    (S["sla"], "value"),
    (S["volume"], "value"),
    (S["retention"], "value"),
    (S["steward"], "value"),
    (S["steward"], "options"),
]
SETTINGS_OUT = [(S["settings-note"], "children"), (S["settings-saved"], "data")]
SETTINGS_STATE = [(S["params"], "data")] + [
    (S[name], "value") for name in ("sla", "volume", "retention", "steward")
]
KEYS_OUT = [(S["keys"], "children"), (S["revoke-choice"], "options"), (S["revoke-choice"], "value")]
KEYS_IN = [(S["params"], "data"), (S["keys-changed"], "data"), (S["keys-revoked"], "data")]
NEW_KEY_OUT = [(S["key-created"], "children"), (S["keys-changed"], "data")]
NEW_KEY_STATE = [(S["params"], "data"), (S["key-label"], "value"), (S["key-expiry"], "value")]
REVOKE_OUT = [(S["revoke-note"], "children"), (S["keys-revoked"], "data")]
REVOKE_STATE = [(S["params"], "data"), (S["revoke-choice"], "value")]
PLAINTEXT = re.compile(r"ns_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")


def listing(client: FlaskClient) -> dict[str, Any]:
    return post(client, LIST_OUT, [(L["created"], "data")], [None])


def create(client: FlaskClient, **values: Any) -> dict[str, Any]:
    form = {
        "key": "shop",
        "name": "Shop",
        "owner": None,
        "steward": None,
        "refresh": "streaming",
        "sla": 300,
        "volume": None,
        "retention": 90,
        "sensitivity": "internal",
        "description": "",
    } | values
    state = [form[name] for name in form]
    return post(client, CREATE_OUT, [(L["create"], "n_clicks")], [1, *state], state=CREATE_STATE)


def view(client: FlaskClient, key: str) -> dict[str, Any]:
    inputs = [(S["params"], "data"), (S["settings-saved"], "data")]
    return post(client, VIEW_OUT, inputs, [{"key": key}, None])


def save_settings(
    client: FlaskClient, key: str, sla: Any, volume: Any, retention: Any, steward: Any
) -> dict[str, Any]:
    values = [1, {"key": key}, sla, volume, retention, steward]
    return post(
        client, SETTINGS_OUT, [(S["save-settings"], "n_clicks")], values, state=SETTINGS_STATE
    )


def keys(client: FlaskClient, key: str) -> dict[str, Any]:
    return post(client, KEYS_OUT, KEYS_IN, [{"key": key}, None, None])


def new_key(client: FlaskClient, key: str, label: Any = "", days: Any = None) -> dict[str, Any]:
    values = [1, {"key": key}, label, days]
    return post(client, NEW_KEY_OUT, [(S["create-key"], "n_clicks")], values, state=NEW_KEY_STATE)


def revoke(client: FlaskClient, key: str, key_id: Any) -> dict[str, Any]:
    values = [1, {"key": key}, key_id]
    return post(
        client, REVOKE_OUT, [(S["confirm-revoke"], "submit_n_clicks")], values, state=REVOKE_STATE
    )


def option_value(options: list[dict[str, Any]], fragment: str) -> Any:
    return next(o["value"] for o in options if fragment in o["label"])


def source_row(world: World, key: str) -> Source:
    with Session(world.engine) as session:
        return session.scalars(select(Source).where(Source.key == key)).one()


def order(order_id: str, **extra: Any) -> dict[str, Any]:
    return {"order_id": order_id, "ts": EVENT_TS, "unit": "west", "amount": 5, "items": 1} | extra


def test_an_admin_creates_a_source_and_edits_its_settings_each_change_audited(
    world: World,
) -> None:
    ada = world.client(ADA)
    shown = listing(ada)
    assert "Orders" in text_of(shown[L["list"]])
    assert "Returns" in text_of(shown[L["list"]])
    west = option_value(shown[L["owner"]]["options"], "(west)")
    sam = world.users[SAM]
    assert sam in [o["value"] for o in shown[L["steward"]]["options"]]
    assert world.users[EVE] not in [o["value"] for o in shown[L["steward"]]["options"]]

    answer = create(
        ada,
        owner=west,
        steward=sam,
        refresh="microbatch",
        sla=600,
        retention=45,
        sensitivity="confidential",
        description="The web shop.",
    )
    assert "Created Shop" in text_of(answer)
    created = world.audits("source.create")[-1]
    assert (created.actor, created.actor_id, created.target_id) == (
        "Ada Admin",
        world.users[ADA],
        "shop",
    )
    assert created.before is None
    assert created.after is not None
    assert (
        created.after.items()
        >= {
            "freshness_sla_s": 600,
            "expected_volume_per_15m": None,
            "retention_days": 45,
            "steward_id": sam,
            "sensitivity": "confidential",
            "refresh_mode": "microbatch",
            "owner_unit_id": west,
        }.items()
    )
    assert [a.target_id for a in world.audits("metric.create")][-1] == "shop"
    assert "Shop" in text_of(listing(ada)[L["list"]])

    # Refused creations change nothing.
    before = (world.count("sources"), world.audit_total())
    assert "exists already" in text_of(create(ada, owner=west))
    assert "the key must be" in text_of(create(ada, key="Bad Key!", owner=west))
    assert "freshness SLA" in text_of(create(ada, key="other", owner=west, sla=0))
    assert "control characters" in text_of(create(ada, key="other", name="a\x00", owner=west))
    assert (world.count("sources"), world.audit_total()) == before

    # Settings: SLA, expected volume, retention, steward, audited as one update.
    answer = save_settings(ada, "shop", 900, 120, 60, None)
    assert "Saved" in text_of(answer)
    update = world.audits("source.update")[-1]
    assert update.actor_id == world.users[ADA]
    assert update.before == {
        "freshness_sla_s": 600,
        "expected_volume_per_15m": None,
        "retention_days": 45,
        "steward_id": sam,
    }
    assert update.after == {
        "freshness_sla_s": 900,
        "expected_volume_per_15m": 120,
        "retention_days": 60,
        "steward_id": None,
    }
    stored = source_row(world, "shop")
    assert (stored.freshness_sla_s, stored.expected_volume_per_15m, stored.retention_days) == (
        900,
        120,
        60,
    )
    shown_settings = view(ada, "shop")
    # Those who may steward a source of west: not Rex (east only), not Eve (an executive).
    stewards = [o["value"] for o in shown_settings[S["steward"]]["options"]]
    assert stewards == [world.users[ADA], sam]
    assert [shown_settings[S[n]]["value"] for n in ("sla", "volume", "retention")] == [900, 120, 60]

    # An executive cannot steward a source, and saving the same values changes nothing.
    audits = world.audit_total()
    assert "the steward must be" in text_of(
        save_settings(ada, "shop", 900, 120, 60, world.users[EVE])
    )
    assert "Nothing changed" in text_of(save_settings(ada, "shop", 900, 120, 60, None))
    assert "retention" in text_of(save_settings(ada, "shop", 900, 120, 0, None))
    assert world.audit_total() == audits


def test_a_regional_admin_manages_only_the_sources_of_their_units(world: World) -> None:
    rex = world.client(REX)
    shown = listing(rex)
    assert "Returns" in text_of(shown[L["list"]])
    assert "Orders" not in text_of(shown[L["list"]])
    assert [o["label"] for o in shown[L["owner"]]["options"]] == ["East (east)"]
    assert "no such source in your scope" in text_of(view(rex, "orders"))
    acme = option_value(listing(world.client(ADA))[L["owner"]]["options"], "(acme)")
    assert "no such org unit in your scope" in text_of(create(rex, key="acme_feed", owner=acme))
    assert "Saved" in text_of(save_settings(rex, "returns", 120, None, 30, None))


def test_a_key_is_shown_once_stored_hashed_and_refused_at_once_when_revoked(
    world: World, settings: Settings
) -> None:
    ada = world.client(ADA)
    # A second web process that has the catalogue loaded before the key is revoked.
    other = create_app(
        settings.model_copy(update=TEST_SETTINGS | {"rate_limit_enabled": False}),
        clock=FakeClock(),
    )
    try:
        answer = new_key(ada, "orders", "till 3", 30)
        plaintext = PLAINTEXT.search(text_of(answer))
        assert plaintext is not None, text_of(answer)
        key = plaintext.group(0)
        assert "shown only this once" in text_of(answer)
        prefix = key.split("_")[1]
        with Session(world.engine) as session:
            stored = session.scalars(
                select(SourceApiKey).where(SourceApiKey.prefix == prefix)
            ).one()
            assert stored.key_hash == hash_key(key)
            assert stored.label == "till 3"
            assert stored.expires_at is not None
            key_id = stored.id
        created = world.audits("source_api_key.create")[-1]
        assert created.actor_id == world.users[ADA]
        assert created.after is not None
        assert created.after["prefix"] == prefix
        assert created.after["label"] == "till 3"
        with world.engine.connect() as connection:
            logged = connection.execute(text("SELECT detail::text FROM access_log")).scalars().all()
            audited = connection.execute(text("SELECT after::text FROM audit_log")).scalars().all()
        assert not [row for row in [*logged, *audited] if row and key in row]
        # Listed by prefix only; never used yet.
        listed = text_of(keys(ada, "orders"))
        assert f"ns_{prefix}_" in listed
        assert key not in listed
        assert stored.key_hash not in listed

        # Used: 202, and the use is recorded once a minute at most (across processes).
        assert world.ingest("orders", [order("k-1")], key=key).status_code == 202
        first_use = last_used(world, key_id)
        assert first_use is not None
        assert abs((first_use - dt.datetime.now(dt.UTC)).total_seconds()) < 60
        ttl = world.services.redis.ttl(f"{KEY_USED_PREFIX}{key_id}")
        assert 0 < ttl <= USE_INTERVAL_S
        assert ingest_via(other, "orders", key).status_code == 202
        assert world.ingest("orders", [order("k-2")], key=key).status_code == 202
        assert last_used(world, key_id) == first_use
        row = keys_row(keys(ada, "orders"), prefix)
        assert row[1:3] == ["till 3", "active"]
        assert row[4] == "Ada Admin"
        assert row[6] == f"{first_use:%Y-%m-%d %H:%M} UTC"

        # Revoked: audited, and refused by both processes on their next request.
        options = keys(ada, "orders")[S["revoke-choice"]]["options"]
        assert key_id in [o["value"] for o in options]
        assert "Revoked" in text_of(revoke(ada, "orders", key_id))
        revoked = world.audits("source_api_key.revoke")[-1]
        assert revoked.actor_id == world.users[ADA]
        assert revoked.before is not None
        assert revoked.before["revoked_at"] is None
        assert revoked.after is not None
        assert revoked.after["revoked_at"] is not None
        refused = world.ingest("orders", [order("k-3")], key=key)
        assert refused.status_code == 401, refused.get_data(as_text=True)
        assert ingest_via(other, "orders", key).status_code == 401
        assert world.ingest("orders", [order("k-4")]).status_code == 202  # the other key
        assert "revoked already" in text_of(revoke(ada, "orders", key_id))
        assert key_id not in [
            o["value"] for o in keys(ada, "orders")[S["revoke-choice"]]["options"]
        ]
        # Another source's key cannot be revoked from this source's page.
        returns_key = key_of(world, "returns")
        assert "no such API key of this source" in text_of(revoke(ada, "orders", returns_key))
        assert world.ingest("returns", [order("r-1", unit="east")]).status_code == 202
    finally:
        other.extensions["northstar"].close()


def last_used(world: World, key_id: int) -> dt.datetime | None:
    with Session(world.engine) as session:
        return session.get_one(SourceApiKey, key_id).last_used_at


def key_of(world: World, source: str) -> int:
    with Session(world.engine) as session:
        found = session.scalars(
            select(SourceApiKey.id).join(Source).where(Source.key == source)
        ).first()
        assert found is not None
        return found


def keys_row(answer: dict[str, Any], prefix: str) -> list[str]:
    """The keys table's row of the key with this prefix: key, label, state, created, by,
    expires, last used, revoked."""
    found = table_rows(answer[S["keys"]]["children"])
    return next(r for r in found if r[0] == f"ns_{prefix}_…")


def ingest_via(app: Any, source: str, key: str) -> Any:
    return app.test_client().post(
        f"/api/v1/sources/{source}/events",
        json=[order("via-other")],
        headers={"Authorization": f"Bearer {key}"},
    )
