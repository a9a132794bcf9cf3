"""The access and audit log viewers through HTTP: filters, server-side pages, CSV export of
exactly the filtered rows with formula cells neutralised, their own reads logged, and who is
refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from dashboard.admin.logs_look import LOG_IDS
from dashboard.app import create_app
from integration.admin_data_support import ADA, EVE, NORA, REX, SAM, World, post, text_of, world
from integration.auth_support import PASSWORD, FakeClock, sign_in
from integration.drain_support import services
from models.enums import Outcome
from models.logs import AccessLog, AuditLog
from models.queries.admin.logs import LogKind
from models.settings import Settings

__all__ = ["services", "world"]  # fixtures

A, U = LOG_IDS[LogKind.ACCESS], LOG_IDS[LogKind.AUDIT]
DAY = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
FIRST, LAST = "2025-01-10", "2025-01-12"


def at(days: float, hours: float = 9) -> dt.datetime:
    return DAY + dt.timedelta(days=days, hours=hours)


def seed_logs(world: World) -> dict[str, int]:
    """Access and audit rows on 10 to 12 January 2025 (and one each after), ids by name."""
    eve, sam, ada = (world.users[e] for e in (EVE, SAM, ADA))
    access = {
        "a1": AccessLog(
            at=at(0),
            user_id=eve,
            page="overview",
            action="update_tiles",
            outcome=Outcome.OK,
            rows=7,
            detail={"unit": "acme"},
        ),
        "a2": AccessLog(
            at=at(0, 10),
            user_id=eve,
            page="events",
            action="events_rows",
            outcome=Outcome.DENIED,
            detail={"refused": "no"},
        ),
        "a3": AccessLog(
            at=at(1),
            user_id=sam,
            page="steward-quarantine",
            action='=HYPERLINK("http://evil.example")',
            outcome=Outcome.OK,
            detail={},
        ),
        "a4": AccessLog(
            at=at(1, 12),
            user_id=None,
            page="http",
            action="GET /x",
            outcome=Outcome.THROTTLED,
            client="@10.0.0.9",
            detail={},
        ),
        "a5": AccessLog(
            at=at(2),
            user_id=eve,
            page="overview",
            action="+cmd",
            outcome=Outcome.OK,
            detail={"note": "-2"},
        ),
        "a6": AccessLog(
            at=at(4),
            user_id=eve,
            page="overview",
            action="update_tiles",
            outcome=Outcome.OK,
            detail={},
        ),
    }
    audit = {
        "u1": AuditLog(
            at=at(0),
            actor="=cmd|' /C calc'!A0",
            actor_id=None,
            action="source.update",
            target_type="source",
            target_id="orders",
            before={"retention_days": 30},
            after={"retention_days": 60},
            detail={},
        ),
        "u2": AuditLog(
            at=at(1),
            actor="Ada Admin",
            actor_id=ada,
            action="user.create",
            target_type="user",
            target_id="@evil",
            after={"email": "-x@y"},
            detail={},
        ),
        "u3": AuditLog(
            at=at(2),
            actor="Ada Admin",
            actor_id=ada,
            action="source_api_key.revoke",
            target_type="source",
            target_id="orders",
            before={"revoked_at": None},
            after={"revoked_at": "2025-01-12"},
            detail={},
        ),
        "u4": AuditLog(
            at=at(5),
            actor="Ada Admin",
            actor_id=ada,
            action="source.create",
            target_type="source",
            target_id="late",
            detail={},
        ),
    }
    with Session(world.engine) as session, session.begin():
        session.add_all([*access.values(), *audit.values()])
        session.flush()
        made = {name: row.id for name, row in access.items()}
        return made | {name: row.id for name, row in audit.items()}


ROWS_OUT = [("grid", "rowData"), ("summary", "children"), ("pages", "max_value")]
ROWS_IN = [("user", "value"), ("dates", "start_date"), ("dates", "end_date"), ("text", "value")]
ROWS_IN += [("choice", "value"), ("order", "value"), ("pages", "active_page")]


def props(ids: dict[str, str], names: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(ids[name], prop) for name, prop in names]


def page(
    client: FlaskClient,
    ids: dict[str, str],
    *,
    who: Any = None,
    first: Any = FIRST,
    last: Any = LAST,
    text: Any = None,
    choice: Any = None,
    order: Any = "newest",
    number: Any = 1,
) -> dict[str, Any]:
    outputs = [*props(ids, ROWS_OUT), (ids["pages"], "active_page")]
    values = [who, first, last, text, choice, order, number]
    changed = (ids["pages"], "active_page")
    return post(client, outputs, props(ids, ROWS_IN), values, changed=changed)


def ids_of(answer: dict[str, Any], ids: dict[str, str]) -> list[int]:
    return [int(r["id"]) for r in answer[ids["grid"]]["rowData"]]


def export(client: FlaskClient, ids: dict[str, str], **filters: Any) -> dict[str, Any]:
    form = {"who": None, "first": FIRST, "last": LAST, "text": None, "choice": None} | filters
    state = props(ids, ROWS_IN[:-1])
    values = [1, *form.values(), "newest"]
    outputs = [(ids["download"], "data"), (ids["export-note"], "children")]
    return post(client, outputs, [(ids["export"], "n_clicks")], values, state=state)


def csv_rows(answer: dict[str, Any], ids: dict[str, str]) -> list[dict[str, str]]:
    download = answer[ids["download"]]["data"]
    assert download["type"] == "text/csv"
    assert download["filename"].endswith(".csv")
    return list(csv.DictReader(io.StringIO(download["content"])))


def test_the_access_log_viewer_filters_and_pages_on_the_server(world: World) -> None:
    made = seed_logs(world)
    ada = world.client(ADA)
    choices = post(ada, [(A["user"], "options")], [(A["load"], "data")], [{"log": "access"}])
    labels = [o["label"] for o in choices[A["user"]]["options"]]
    assert labels[0] == "System (no user)"
    assert "Eve Executive <eve@example.com>" in labels

    assert ids_of(page(ada, A), A) == [made[n] for n in ("a5", "a4", "a3", "a2", "a1")]
    oldest = page(ada, A, order="oldest")
    assert ids_of(oldest, A) == [made[n] for n in ("a1", "a2", "a3", "a4", "a5")]
    eve = world.users[EVE]
    assert ids_of(page(ada, A, who=eve), A) == [made[n] for n in ("a5", "a2", "a1")]
    assert ids_of(page(ada, A, who=eve, choice=["denied"]), A) == [made["a2"]]
    assert ids_of(page(ada, A, text="OVERVIEW"), A) == [made["a5"], made["a1"]]
    assert ids_of(page(ada, A, who="system"), A) == [made["a4"]]
    assert ids_of(page(ada, A, text="%"), A) == []  # a literal %, not a wildcard
    row = page(ada, A, who=eve, choice=["ok"], first=LAST)[A["grid"]]["rowData"][0]
    assert row["user"] == "Eve Executive"
    assert row["action"] == "+cmd"
    assert row["detail"] == '{"note": "-2"}'

    # 150 rows on one day: two pages of 100, read one at a time.
    with Session(world.engine) as session, session.begin():
        session.add_all(
            AccessLog(
                at=dt.datetime(2025, 2, 1, 8, tzinfo=dt.UTC) + dt.timedelta(seconds=n),
                user_id=world.users[SAM],
                page="kpi",
                action="kpi_view",
                outcome=Outcome.OK,
                detail={"n": n},
            )
            for n in range(150)
        )
    first_page = page(ada, A, first="2025-02-01", last="2025-02-01")
    assert len(first_page[A["grid"]]["rowData"]) == 100
    assert first_page[A["pages"]]["max_value"] == 2
    second = page(ada, A, first="2025-02-01", last="2025-02-01", number=2)
    assert len(second[A["grid"]]["rowData"]) == 50
    assert "Rows 101 to 150 of 150 matching." in text_of(second)
    assert set(ids_of(second, A)).isdisjoint(ids_of(first_page, A))

    # Reading the log is itself logged, with the filters used but not the text typed.
    with Session(world.engine) as session:
        reads = (
            session.query(AccessLog)
            .filter(AccessLog.page == "admin-logs", AccessLog.action == "access_log_rows")
            .all()
        )
    assert len(reads) == 10
    assert all(r.user_id == world.users[ADA] and r.outcome is Outcome.OK for r in reads)
    assert {r.rows for r in reads} >= {5, 3, 100, 50}
    assert "OVERVIEW" not in text_of([r.detail for r in reads])
    assert any(r.detail.get("text") is True for r in reads)


def test_the_audit_log_viewer_filters_by_actor_kind_and_text(world: World) -> None:
    made = seed_logs(world)
    ada = world.client(ADA)
    choices = post(
        ada,
        [(U["user"], "options"), (U["choice"], "options")],
        [(U["load"], "data")],
        [{"log": "audit"}],
    )
    assert {"label": "source", "value": "source"} in choices[U["choice"]]["options"]
    assert ids_of(page(ada, U), U) == [made[n] for n in ("u3", "u2", "u1")]
    assert ids_of(page(ada, U, who=world.users[ADA]), U) == [made["u3"], made["u2"]]
    assert ids_of(page(ada, U, who="system"), U) == [made["u1"]]
    assert ids_of(page(ada, U, choice=["user"]), U) == [made["u2"]]
    assert ids_of(page(ada, U, text="revoke"), U) == [made["u3"]]
    everything = page(ada, U, text="orders", first=None, last=None, order="oldest")
    assert ids_of(everything, U)[:2] == [made["u1"], made["u3"]]
    shown = page(ada, U, choice=["source"])[U["grid"]]["rowData"][-1]
    assert shown["before"] == '{"retention_days": 30}'
    assert shown["after"] == '{"retention_days": 60}'
    assert "Invalid input" in text_of(page(ada, U, first=LAST, last=FIRST))


def test_the_csv_export_holds_exactly_the_filtered_rows_with_formulas_neutralised(
    world: World,
) -> None:
    made = seed_logs(world)
    ada = world.client(ADA)
    eve = world.users[EVE]
    answer = export(ada, A, who=eve)
    rows = csv_rows(answer, A)
    assert [int(r["id"]) for r in rows] == ids_of(page(ada, A, who=eve), A)
    assert [int(r["id"]) for r in rows] == [made[n] for n in ("a5", "a2", "a1")]
    assert "Exported 3 rows." in text_of(answer)
    assert rows[0]["action"] == "'+cmd"
    assert rows[0]["detail"] == '{"note": "-2"}'
    assert rows[2]["action"] == "update_tiles"
    assert rows[2]["rows"] == "7"

    everyone = csv_rows(export(ada, A), A)
    assert len(everyone) == 5
    cells = [value for row in everyone for value in row.values()]
    assert '\'=HYPERLINK("http://evil.example")' in cells
    assert "'@10.0.0.9" in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]

    audit = csv_rows(export(ada, U), U)
    assert [int(r["id"]) for r in audit] == [made[n] for n in ("u3", "u2", "u1")]
    assert audit[2]["actor"] == "'=cmd|' /C calc'!A0"
    assert audit[1]["target_id"] == "'@evil"
    assert audit[1]["after"] == '{"email": "-x@y"}'
    only_users = csv_rows(export(ada, U, choice=["user"]), U)
    assert [int(r["id"]) for r in only_users] == [made["u2"]]

    with Session(world.engine) as session:
        logged = session.query(AccessLog).filter(AccessLog.action == "export_access_log").all()
    assert sorted(r.rows for r in logged) == [3, 5]
    assert all(r.detail["export"] == "csv" and r.user_id == world.users[ADA] for r in logged)


def test_an_export_over_the_bound_is_refused_whole(world: World, settings: Settings) -> None:
    seed_logs(world)
    small = settings.model_copy(update={"log_export_max_rows": 4, "rate_limit_enabled": False})
    app = create_app(small, clock=FakeClock())
    try:
        client = app.test_client()
        assert sign_in(client, email=ADA, password=PASSWORD).status_code == 303
        answer = export(client, A)
        assert "data" not in answer.get(A["download"], {})
        assert "more than 4 rows match; narrow the filters" in text_of(answer)
        assert len(csv_rows(export(client, A, who=world.users[EVE]), A)) == 3
    finally:
        app.extensions["northstar"].close()


@pytest.mark.parametrize(
    ("email", "why"),
    [
        (EVE, "missing permission audit:view"),
        (SAM, "missing permission audit:view"),
        (NORA, "missing permission audit:view"),
        (REX, "the access and audit logs span the whole organisation"),
    ],
)
def test_the_logs_are_refused_to_non_admins_and_to_a_regional_admin(
    world: World, email: str, why: str
) -> None:
    seed_logs(world)
    client = world.client(email)
    answers = [
        page(client, A),
        page(client, U),
        export(client, A),
        export(client, U),
        post(client, [(A["user"], "options")], [(A["load"], "data")], [{"log": "access"}]),
    ]
    for answer in answers[:4]:
        shown = text_of(answer)
        assert f"Not allowed: {why}" in shown, shown[:300]
        assert "update_tiles" not in shown
        assert "retention_days" not in shown
    assert answers[4][A["user"]]["options"] == []
    with Session(world.engine) as session:
        refused = (
            session.query(AccessLog)
            .filter(
                AccessLog.user_id == world.users[email],
                AccessLog.page == "admin-logs",
                AccessLog.outcome == Outcome.DENIED,
            )
            .count()
        )
    assert refused == len(answers)
