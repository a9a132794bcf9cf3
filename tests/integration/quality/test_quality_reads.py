"""What the data-health, source and lineage pages read: sources x checks, the volume band, and
the lineage from a source down to its KPIs, all within the reader's scope."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from integration.quality_support import (
    JUDGED,
    NOW,
    ORDERS,
    TICKETS,
    World,
    run,
    weeks_before,
    world,
    write_window,
)
from models.permissions import AccessDenied
from models.quality.tables import CheckKey, DqState
from models.queries.steward.dq_health import health_matrix, recent_results, volume_band
from models.queries.steward.lineage import kpis_by_source, source_impact, sources_by_kpi
from models.settings import Settings

__all__ = ["world"]  # fixture


def test_the_health_matrix_shows_each_sources_latest_check_states_in_scope(
    world: World, db: Engine, settings: Settings
) -> None:
    write_window(db, TICKETS, JUDGED, 30)  # the orders sent nothing at all
    run(db, settings, NOW)

    with db.connect() as connection:
        matrix = health_matrix(connection, world.principal(db, world.people.executive))
        elsewhere = health_matrix(connection, world.principal(db, world.people.regional))
        recent = recent_results(
            connection, world.principal(db, world.people.steward), ORDERS, check=CheckKey.FRESHNESS
        )
        with pytest.raises(AccessDenied):
            recent_results(connection, world.principal(db, world.people.regional), ORDERS)

    assert [(s.key, s.steward) for s in matrix] == [("orders", "Sam Steward"), ("tickets", None)]
    orders, tickets = matrix
    assert set(orders.checks) == set(CheckKey)
    assert orders.checks[CheckKey.FRESHNESS].state is DqState.FAILING
    assert orders.checks[CheckKey.FRESHNESS].summary == "no events received yet"
    assert tickets.checks[CheckKey.FRESHNESS].state is DqState.OK
    assert elsewhere == []
    assert [r.state for r in recent] == [DqState.FAILING]


def test_the_volume_band_is_the_one_the_checks_judge_by(
    world: World, db: Engine, settings: Settings
) -> None:
    for k, n in enumerate((100, 104, 97, 101), start=1):
        write_window(db, ORDERS, weeks_before(JUDGED, k), n, tag=f"w{k}-")
    write_window(db, ORDERS, JUDGED, 300)
    steward = world.principal(db, world.people.steward)

    with db.connect() as connection:
        before, judged = volume_band(
            connection, steward, ORDERS, JUDGED.start - (JUDGED.end - JUDGED.start), JUDGED.end,
            settings,
        )  # fmt: skip

    assert (before.received, before.expected, before.low) == (0, None, None)  # no history
    assert (judged.window, judged.received, judged.expected) == (JUDGED, 300, 100.5)
    assert judged.low is not None
    assert judged.high is not None
    assert judged.low < 100 < judged.high < 300  # the spike is outside the band


def test_lineage_runs_from_a_source_through_its_metrics_to_its_kpis(
    world: World, db: Engine
) -> None:
    with db.connect() as connection:
        impact = source_impact(connection, world.principal(db, world.people.executive), ORDERS)
        by_source = kpis_by_source(connection, [ORDERS, TICKETS])
        by_kpi = sources_by_kpi(connection)

    assert impact is not None
    assert [(m.key, [k.key for k in m.kpis]) for m in impact.metrics] == [
        ("orders.amount", ["revenue"]),
        ("orders.count", []),
        ("orders.qty", ["minutes_per_item"]),
    ]
    assert [k.key for k in impact.kpis] == ["minutes_per_item", "revenue"]
    assert {s: [k.key for k in kpis] for s, kpis in by_source.items()} == {
        ORDERS: ["minutes_per_item", "revenue"],
        TICKETS: ["minutes_per_item", "ticket_minutes"],
    }
    assert by_kpi == {
        "minutes_per_item": frozenset({ORDERS, TICKETS}),
        "revenue": frozenset({ORDERS}),
        "ticket_minutes": frozenset({TICKETS}),
    }
