"""The log export's CSV: one line per row, JSON columns as text, formula cells neutralised."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from dashboard.admin.logs_look import csv_text, neutralise
from models.enums import Outcome
from models.queries.admin.logs import AccessRow, AuditRow, LogKind

AT = dt.datetime(2025, 1, 10, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        (-2, -2),
        (3.5, 3.5),
        (None, None),
    ],
)
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(cell: object, written: object) -> None:
    assert neutralise(cell) == written


def test_the_csv_has_a_header_and_one_neutralised_line_per_row() -> None:
    access = [
        AccessRow(
            1,
            AT,
            7,
            "Eve",
            "overview",
            '=HYPERLINK("x")',
            ["1.2"],
            3,
            Outcome.OK,
            12.34,
            "@host",
            {"note": "-2", "n": 1},
        ),
        AccessRow(2, AT, None, None, "http", "GET /x", [], 0, Outcome.THROTTLED, None, None, {}),
    ]
    rows = list(csv.DictReader(io.StringIO(csv_text(LogKind.ACCESS, access))))
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[0]["action"] == '\'=HYPERLINK("x")'
    assert rows[0]["client"] == "'@host"
    assert rows[0]["detail"] == '{"n": 1, "note": "-2"}'
    assert rows[0]["at"] == "2025-01-10T09:30:00.000+00:00"
    assert rows[0]["duration_ms"] == "12.3"
    assert rows[1]["user"] == ""
    assert rows[1]["outcome"] == "throttled"

    audit = [AuditRow(3, AT, None, "-system", "a.b", "user", "+1", None, {"x": 1}, {})]
    line = next(iter(csv.DictReader(io.StringIO(csv_text(LogKind.AUDIT, audit)))))
    assert (line["actor"], line["target_id"], line["before"], line["after"]) == (
        "'-system",
        "'+1",
        "",
        '{"x": 1}',
    )
