"""The admin KPI pages through HTTP: the list scoped to the admin's units, a formula checked as
it is typed (the problem marked at its position) and previewed on real data, saving as a new
definition version audited with before and after, a new KPI, and forged calls refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dashboard.admin.kpi_forms import KPI_IDS, LIST_IDS
from integration.admin_data_support import ADA, EVE, NORA, REX, SAM, World, post, text_of, world
from integration.auth_support import ACTOR
from integration.drain_support import services
from models.catalog import KpiSpec, upsert_kpi
from models.enums import Direction
from models.sources import Source
from models.writes import EventRow, write_events

__all__ = ["services", "world"]  # fixtures

K = KPI_IDS
FIELDS = (
    "key",
    "name",
    "description",
    "formula",
    "unit",
    "format",
    "direction",
    "owner",
    "steward",
    "warn",
    "crit",
)
VIEW_OUT = [
    (K["head"], "children"),
    *((K[name], "value") for name in FIELDS),
    (K["owner"], "options"),
    (K["steward"], "options"),
    (K["versions"], "children"),
]
CHECK_OUT = [(K["formula-check"], "children"), (K["preview"], "children")]
SAVE_OUT = [(K["save-note"], "children"), (K["saved"], "data")]
SAVE_STATE = [(K["params"], "data"), *((K[name], "value") for name in (*FIELDS, "comment"))]


def _kpi(key: str, name: str, formula: str, owner: str) -> KpiSpec:
    return KpiSpec(
        key=key,
        name=name,
        formula=formula,
        owner_unit_key=owner,
        unit="EUR",
        format=",.2f",
        direction=Direction.HIGHER_IS_BETTER,
        target=None,
        warn_threshold=None,
        crit_threshold=None,
    )


@pytest.fixture
def kpis(world: World) -> World:
    """Revenue (owned by acme) and Returns (owned by east), version 1 each; orders of 10 and
    20 EUR at acme an hour ago."""
    with Session(world.engine) as session, session.begin():
        upsert_kpi(session, _kpi("revenue", "Revenue", "sum(orders.amount)", "acme"), ACTOR)
        upsert_kpi(session, _kpi("east_returns", "Returns", "sum(returns.amount)", "east"), ACTOR)
        orders = session.scalars(select(Source).where(Source.key == "orders")).one()
        ids = (orders.id, orders.owner_unit_id)
    ts = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    write_events(
        world.engine,
        [EventRow(ts, ids[0], f"o-{n}", ids[1], {"amount": n * 10.0}) for n in (1, 2)],
    )
    return world


def listing(client: FlaskClient) -> str:
    answer = post(client, [(LIST_IDS["list"], "children")], [(LIST_IDS["refresh"], "data")], [0])
    return text_of(answer)


def view(client: FlaskClient, key: Any) -> dict[str, Any]:
    return post(
        client, VIEW_OUT, [(K["params"], "data"), (K["saved"], "data")], [{"key": key}, None]
    )


def check(client: FlaskClient, formula: Any, unit: Any = "EUR", fmt: Any = ",.2f") -> str:
    inputs = [(K["formula"], "value")]
    state = [(K["unit"], "value"), (K["format"], "value")]
    return text_of(post(client, CHECK_OUT, inputs, [formula, unit, fmt], state=state))


def owner_id(world: World, key: str) -> int:
    with world.engine.connect() as connection:
        found = connection.execute(text("SELECT id FROM org_units WHERE key = :k"), {"k": key})
        return int(found.scalar_one())


def save(client: FlaskClient, world: World, page: str, **values: Any) -> str:
    form = {
        "key": page,
        "name": "Revenue",
        "description": "",
        "formula": "sum(orders.amount)",
        "unit": "EUR",
        "format": ",.2f",
        "direction": "higher_is_better",
        "owner": owner_id(world, "acme"),
        "steward": None,
        "warn": 90,
        "crit": 80,
        "comment": "",
    } | values
    ordered = [form[name] for name in (*FIELDS, "comment")]
    answer = post(
        client, SAVE_OUT, [(K["save"], "n_clicks")], [1, {"key": page}, *ordered], state=SAVE_STATE
    )
    return text_of(answer)


def versions(world: World, key: str) -> list[tuple[int, str, str]]:
    with world.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT v.version, v.formula, v.comment FROM kpi_versions v "
                "JOIN kpis k ON k.id = v.kpi_id WHERE k.key = :k ORDER BY v.version"
            ),
            {"k": key},
        )
        return [tuple(r) for r in rows]


def test_the_list_shows_the_kpis_owned_in_the_admins_scope(kpis: World) -> None:
    shown = listing(kpis.client(ADA))
    assert "Revenue" in shown
    assert "Returns" in shown
    assert "sum(orders.amount)" in shown
    regional = listing(kpis.client(REX))
    assert "Returns" in regional
    assert "Revenue" not in regional


def test_a_bad_formula_is_marked_at_its_position_and_saving_it_changes_nothing(
    kpis: World,
) -> None:
    ada = kpis.client(ADA)
    shown = view(ada, "revenue")
    assert shown[K["formula"]]["value"] == "sum(orders.amount)"
    assert "v1" in text_of(shown[K["versions"]])

    checked = check(ada, "sum(orders.amount) * 1.1)")
    assert '"children": "' + " " * 24 + '^"' in checked  # the caret under the 25th character
    assert "At character 25: unbalanced parenthesis: ')' without '('." in checked
    unknown = check(ada, "sum(orders.amont)")
    assert '"children": "    ^"' in unknown
    assert "At character 5: unknown metric (at ^)." in unknown
    assert "amont" not in unknown  # what was typed is never echoed

    audits_before = len(kpis.audits("kpi.update"))
    note = save(ada, kpis, "revenue", formula="sum(orders.amount) * 1.1)")
    assert "Not saved: the formula has a problem at character 25" in note
    assert versions(kpis, "revenue") == [(1, "sum(orders.amount)", "")]
    assert len(kpis.audits("kpi.update")) == audits_before


def test_a_fixed_formula_is_saved_as_version_2_audited_with_before_and_after(
    kpis: World,
) -> None:
    ada = kpis.client(ADA)
    note = save(ada, kpis, "revenue", formula="avg(orders.amount)", comment="average order")
    assert "definition v2" in note
    assert versions(kpis, "revenue") == [
        (1, "sum(orders.amount)", ""),
        (2, "avg(orders.amount)", "average order"),
    ]
    (audit,) = kpis.audits("kpi.update")
    assert audit.actor_id == kpis.users[ADA]
    assert audit.before is not None
    assert audit.after is not None
    assert audit.before["formula"] == "sum(orders.amount)"
    assert audit.after["formula"] == "avg(orders.amount)"
    assert audit.after["target_warn_pct"] == 90
    assert "avg(orders.amount)" in text_of(view(ada, "revenue")[K["versions"]])

    # Saving again without a change of definition keeps the version.
    assert "no new version" in save(ada, kpis, "revenue", formula="avg(orders.amount)")
    assert len(versions(kpis, "revenue")) == 2


def test_the_preview_computes_the_typed_formula_on_real_data(kpis: World) -> None:
    ada = kpis.client(ADA)
    shown = check(ada, "sum(orders.amount) * 2")
    assert "The formula is valid; it reads orders.amount." in shown
    assert "Preview at Acme, last 7 days: 60.00 EUR" in shown
    assert "Preview at Acme, last 7 days: 15.0 EUR" in check(ada, "avg(orders.amount)", fmt=".1f")


def test_a_formula_reading_a_source_outside_the_scope_reads_as_unknown(kpis: World) -> None:
    rex = kpis.client(REX)
    refused = check(rex, "sum(returns.amount) / sum(orders.amount)")
    assert "At character 27: unknown metric (at ^)." in refused
    assert "Preview" not in refused
    assert check(rex, "sum(returns.amount) / sum(nosuch.amount)") == refused.replace(
        "orders", "nosuch"
    )
    note = save(
        rex,
        kpis,
        "east_returns",
        name="Returns",
        formula="sum(orders.amount)",
        owner=owner_id(kpis, "east"),
    )
    assert "Not saved: the formula has a problem at character 5: unknown metric" in note
    assert versions(kpis, "east_returns") == [(1, "sum(returns.amount)", "")]


def test_a_new_kpi_is_created_with_version_1(kpis: World) -> None:
    ada = kpis.client(ADA)
    shown = view(ada, "_new")
    assert "New KPI" in text_of(shown[K["head"]])
    labels = [o["label"] for o in shown[K["owner"]]["options"]]
    assert any("(west)" in label for label in labels)
    note = save(
        ada,
        kpis,
        "_new",
        key="order_size",
        name="Order size",
        formula="avg(orders.amount)",
        owner=owner_id(kpis, "west"),
        steward=kpis.users[SAM],
    )
    assert "Created order_size (definition v1)" in note
    assert versions(kpis, "order_size") == [(1, "avg(orders.amount)", "")]
    (created,) = [a for a in kpis.audits("kpi.create") if a.target_id == "order_size"]
    assert created.after is not None
    assert created.after["formula"] == "avg(orders.amount)"
    assert "exists already" in save(ada, kpis, "_new", key="revenue")
    assert "the key must be" in save(ada, kpis, "_new", key="Bad Key")


def state(world: World) -> tuple[Any, ...]:
    with world.engine.connect() as connection:
        kpis = connection.execute(text("SELECT key, formula, name FROM kpis ORDER BY key")).all()
        count = connection.execute(text("SELECT count(*) FROM kpi_versions")).scalar_one()
    return tuple(tuple(r) for r in kpis), count, kpis_audits(world)


def kpis_audits(world: World) -> int:
    return len(world.audits("kpi.update")) + len(world.audits("kpi.create"))


def test_forged_calls_get_a_clean_refusal_and_change_nothing(kpis: World) -> None:
    before = state(kpis)
    ada, rex = kpis.client(ADA), kpis.client(REX)
    acme = owner_id(kpis, "acme")
    refusals = {
        "unknown KPI": text_of(view(ada, "no_such_kpi")),
        "KPI out of scope": text_of(view(rex, "revenue")),
        "save out of scope": save(rex, kpis, "revenue"),
        "owner out of scope": save(rex, kpis, "east_returns", owner=acme),
        "unknown owner": save(ada, kpis, "revenue", owner=999_999),
        "steward not a steward": save(ada, kpis, "revenue", steward=kpis.users[EVE]),
        "long name": save(ada, kpis, "revenue", name="x" * 5000),
        "long formula": check(ada, "sum(orders.amount)" * 100),
        "formula not text": check(ada, ["sum(orders.amount)"]),
        "bad format": save(ada, kpis, "revenue", format="%%%"),
        "bad direction": save(ada, kpis, "revenue", direction="sideways"),
        "bad level": save(ada, kpis, "revenue", warn="lots"),
        "params malformed": text_of(view(ada, ["revenue"])),
        "key in params too long": text_of(view(ada, "k" * 500)),
    }
    for what, shown in refusals.items():
        assert 'role": "alert"' in shown, what
        assert "went wrong" not in shown, what
    assert "no such KPI in your scope" in refusals["KPI out of scope"]
    assert "no such org unit in your scope" in refusals["owner out of scope"]
    assert "steward must be" in refusals["steward not a steward"]
    assert state(kpis) == before


@pytest.mark.parametrize("who", [EVE, NORA, SAM])
def test_a_non_admin_is_refused_everywhere(kpis: World, who: str) -> None:
    before = state(kpis)
    client = kpis.client(who)
    for shown in (
        listing(client),
        text_of(view(client, "revenue")),
        check(client, "sum(orders.amount)"),
        save(client, kpis, "revenue", formula="avg(orders.amount)"),
    ):
        assert "catalog:manage" in shown
        assert "Preview" not in shown
    page = client.get("/admin/kpis/revenue")
    assert "sum(orders.amount)" not in page.get_data(as_text=True)
    assert state(kpis) == before
