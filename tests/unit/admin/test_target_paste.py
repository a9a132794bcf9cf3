"""Target values pasted from a spreadsheet: tab-separated rows read by unit key or name, and
every refusal naming its row and column."""

from __future__ import annotations

import pytest

from dashboard.admin.target_paste import MAX_ROWS, parse_number, parse_paste

UNITS = {"emea": "Europe & Africa", "apac": "Asia Pacific", "na": "North America"}
PERIODS = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("12500", 12500.0),
        ("12 500,5", 12500.5),
        ("12\u00a0500,5", 12500.5),
        ("12,500.5", 12500.5),
        ("12.500,5", 12500.5),
        ("12'500.5", 12500.5),
        ("12,500", 12500.0),
        ("1,5", 1.5),
        ("-3.25", -3.25),
        ("1e3", 1000.0),
        ("  ", None),
        ("", None),
    ],
)
def test_numbers_read_as_spreadsheets_show_them(cell: str, value: float | None) -> None:
    assert parse_number(cell) == value


@pytest.mark.parametrize("cell", ["abc", "12 EUR", "5%", "inf", "nan", "1.2.3", "--1"])
def test_what_is_not_a_number_is_refused(cell: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_number(cell)


def test_rows_by_key_or_name_with_a_header_and_blank_lines() -> None:
    text = (
        "Unit\t2026-Q1\t2026-Q2\t2026-Q3\t2026-Q4\r\n"
        "EMEA\t100\t110\t120\t130\r\n"
        "\r\n"
        "asia pacific\t1 000,5\t\t\t2000\r\n"
    )
    pasted = parse_paste(text, UNITS, PERIODS)
    assert pasted.errors == ()
    assert pasted.values == {
        "emea": [100.0, 110.0, 120.0, 130.0],
        "apac": [1000.5, None, None, 2000.0],
    }


def test_a_short_row_leaves_the_later_periods_alone() -> None:
    assert parse_paste("na\t5", UNITS, PERIODS).values == {"na": [5.0, None, None, None]}


def test_every_refusal_names_its_row_and_column_and_nothing_is_read() -> None:
    text = "\n".join(
        [
            "emea\t100\tlots\t120\t130",
            "mars\t1\t2\t3\t4",
            "emea\t1\t2\t3\t4",
            "na\t1\t2\t3\t4\t5",
            "apac 1 2 3 4",
            "na\t1\t2\t3\t4",
        ]
    )
    pasted = parse_paste(text, UNITS, PERIODS)
    assert pasted.values == {}
    assert pasted.errors == (
        "row 1, column 3 (2026-Q2): 'lots' is not a number",
        "row 2, column 1: no unit 'mars' in this grid",
        "row 3, column 1: emea is on row 1 already",
        "row 4, column 6: the grid has only 4 period(s)",
        "row 5: no tab between the cells (copy the cells from a spreadsheet)",
    )


def test_an_empty_or_oversized_paste_is_refused() -> None:
    assert parse_paste("", UNITS, PERIODS).errors == (
        "nothing to read: paste rows copied from a spreadsheet",
    )
    many = "\n".join("na\t1" for _ in range(MAX_ROWS + 1))
    assert parse_paste(many, UNITS, PERIODS).errors == (f"the paste has more than {MAX_ROWS} rows",)


def test_a_single_period_grid_takes_rows_without_tabs_only_as_unit_names() -> None:
    assert parse_paste("na\t7", UNITS, ["FY2026"]).values == {"na": [7.0]}
    assert parse_paste("na", UNITS, ["FY2026"]).values == {"na": [None]}
