"""Admin console, target plan grid over HTTP: the grid of the admin's units by periods, values
pasted from a spreadsheet (refusals naming row and column), the changes reviewed before a save,
the save applied at once and audited, and forged or unauthorised calls refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dashboard.admin.target_grid import IDS
from integration.admin_support import Console, answer_text, audits, console, rows
from integration.auth_support import ACTOR
from integration.steward_support import Caller
from models.catalog import KpiSpec, upsert_kpi
from models.enums import Direction

__all__ = ["console"]  # fixture

YEAR = 2026
QUARTERS = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


@pytest.fixture
def kpi(console: Console) -> str:
    spec = KpiSpec(
        "revenue", "Revenue", "sum(orders.amount)", "acme", "EUR", ",.0f",
        Direction.HIGHER_IS_BETTER, None, None, None,
    )  # fmt: skip
    with Session(console.db) as session, session.begin():
        upsert_kpi(session, spec, ACTOR)
    return spec.key


def grid(
    caller: Caller, kpi: Any, grain: Any = "quarter", *, paste: Any = None, rows: Any = None
) -> dict[str, Any]:
    clicks = 1 if paste is not None else None
    return caller.answer(IDS["grid-note"], clicks, kpi, grain, YEAR, None, paste, rows)


def review(caller: Caller, kpi: str, rows: Any, grain: str = "quarter") -> dict[str, Any]:
    return caller.answer(IDS["changes"], 1, kpi, grain, YEAR, rows)


def save(caller: Caller, kpi: str, rows: Any, reviewed: Any, grain: str = "quarter") -> str:
    return answer_text(caller, IDS["save-note"], 1, kpi, grain, YEAR, rows, reviewed)


def row_data(answer: dict[str, Any]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = answer[IDS["grid"]]["rowData"]
    return data


def plans(db: Engine) -> list[tuple[str, str, float, str]]:
    found = rows(
        db,
        "SELECT u.key, CAST(p.period_start AS text) AS start, p.value, "
        "CAST(p.allocation AS text) AS allocation FROM target_plans p "
        "JOIN org_units u ON u.id = p.org_unit_id ORDER BY 1, 2",
    )
    return [(r["key"], r["start"], r["value"], r["allocation"]) for r in found]


def test_the_grid_has_the_admins_units_and_the_years_periods(console: Console, kpi: str) -> None:
    regional = grid(console.caller("regional_admin"), kpi)
    assert [r["unit"] for r in row_data(regional)] == ["unit2"]
    headers = [c["headerName"] for c in regional[IDS["grid"]]["columnDefs"]]
    assert headers[2:6] == QUARTERS
    company = grid(console.caller("admin"), kpi, "month")
    assert [r["unit"] for r in row_data(company)] == ["acme", "unit2", "unit3"]
    assert len(company[IDS["grid"]]["columnDefs"]) == 2 + 12 + 3


def test_paste_review_and_save_are_audited_in_one_go(console: Console, kpi: str) -> None:
    ada = console.caller("admin")
    pasted = "Unit\tQ1\tQ2\tQ3\tQ4\nacme\t1 000\t1 100\t1 200\t1 300\nUNIT2\t400,5\t\t\t\n"
    shown = grid(ada, kpi, paste=pasted)
    assert "Read 2 row(s)" in str(shown[IDS["grid-note"]])
    data = row_data(shown)
    assert [data[0][f"p{i}"] for i in range(4)] == [1000.0, 1100.0, 1200.0, 1300.0]
    assert data[1]["p0"] == 400.5
    data[2]["p3"] = 50  # an edit in the grid
    data[2]["allocation"] = "equal"

    reviewed = review(ada, kpi, data)
    listed = str(reviewed[IDS["changes"]])
    assert "6 plan(s) will change" in listed
    assert "unit3 2026-Q4: created, value 50.0, allocation equal" in listed
    assert plans(console.db) == []  # a review writes nothing
    assert audits(console.db, "target_plan.create") == []

    assert "Saved 6 plan change(s)" in save(ada, kpi, data, reviewed[IDS["reviewed"]]["data"])
    assert ("unit3", "2026-10-01", 50.0, "equal") in plans(console.db)
    assert len(plans(console.db)) == 6
    created = audits(console.db, "target_plan.create")
    assert len(created) == 6
    assert {a["actor_id"] for a in created} == {console.users["admin"]}

    # Changed again: one update with before and after.
    data[0]["p1"] = 1150
    again = review(ada, kpi, data)
    assert "acme 2026-Q2: updated, value 1100.0 → 1150.0" in str(again[IDS["changes"]])
    save(ada, kpi, data, again[IDS["reviewed"]]["data"])
    (update,) = audits(console.db, "target_plan.update")
    assert (update["before"], update["after"]) == ({"value": 1100.0}, {"value": 1150.0})


def test_a_bad_paste_names_row_and_column_and_changes_nothing(console: Console, kpi: str) -> None:
    ada = console.caller("admin")
    shown = grid(ada, kpi, paste="acme\t10\tten\nmars\t1\nunit2\t1\t2\t3\t4\t5")
    note = str(shown[IDS["grid-note"]])
    assert "row 1, column 3 (2026-Q2): 'ten' is not a number" in note
    assert "row 2, column 1: no unit 'mars' in this grid" in note
    assert "row 3, column 6: the grid has only 4 period(s)" in note
    assert IDS["grid"] not in shown or shown[IDS["grid"]] == {}
    # A regional admin's paste cannot reach a unit outside the grid.
    rada = grid(console.caller("regional_admin"), kpi, paste="acme\t1\t2\t3\t4")
    assert "no unit 'acme' in this grid" in str(rada[IDS["grid-note"]])


def test_save_needs_the_review_and_refuses_bad_cells_naming_them(
    console: Console, kpi: str
) -> None:
    ada = console.caller("admin")
    data = row_data(grid(ada, kpi))
    data[1]["p0"] = 10
    assert "review the changes first" in save(ada, kpi, data, None)
    reviewed = review(ada, kpi, data)[IDS["reviewed"]]["data"]
    data[1]["p1"] = 20  # changed after the review
    assert "review the changes first" in save(ada, kpi, data, reviewed)
    data[1]["p1"] = "lots"
    assert "row unit2, 2026-Q2: is not a number" in str(review(ada, kpi, data))
    data[1]["p1"] = None
    data[1]["warn_pct"] = 120  # above 100 for a higher-is-better KPI
    assert "warn_pct must be at most 100" in str(review(ada, kpi, data))
    assert plans(console.db) == []


def test_forged_rows_and_non_admins_are_refused(console: Console, kpi: str) -> None:
    rada = console.caller("regional_admin")
    forged = [{"unit": "unit3", "p0": 5, "allocation": "explicit"}]
    assert "names no unit of it" in str(review(rada, kpi, forged))
    reviewed = "0" * 64
    assert "Invalid input" in save(rada, kpi, forged, reviewed)
    assert "Invalid input" in str(review(rada, kpi, "everything"))
    assert "no such KPI" in str(review(rada, "nope", []))
    assert "Invalid input" in str(grid(rada, kpi, "decade"))
    eve = console.caller("executive")
    assert "Not allowed: missing permission catalog:manage" in str(grid(eve, kpi))
    assert "Not allowed" in save(eve, kpi, [{"unit": "unit2", "p0": 1}], reviewed)
    assert plans(console.db) == []
