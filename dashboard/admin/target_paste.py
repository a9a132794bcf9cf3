"""Reading target values pasted from a spreadsheet (pure).

What Excel, LibreOffice and Google Sheets put on the clipboard for a block of cells: one line
per row, cells separated by tabs. The first cell names the unit (its key or its name, either
case), then one value per period of the grid, left to right. A first row whose first cell is
empty or reads ``unit``, ``key`` or ``name`` is a header and is skipped; blank lines are
skipped. An empty cell leaves that period as it is.

Numbers may use spaces, non-breaking spaces or apostrophes between thousands, and ``.`` or
``,`` as the decimal mark: ``12 500,5``, ``12,500.5`` and ``12'500.5`` all read 12500.5. A
number with only commas in groups of three (``12,500``) reads as thousands (12500).

Every refusal names its row and column as the spreadsheet had them (row 1 is the first line
pasted, column 1 the unit), and the whole paste is refused when any cell is: nothing half-read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MAX_CHARS = 200_000
MAX_ROWS = 2000
MAX_ERRORS = 20
_HEADER = {"", "unit", "key", "name", "unit key", "unit name"}
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f']")
_COMMA_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True, slots=True)
class Pasted:
    """The values read by unit key (None: the cell was empty), or why the paste was refused."""

    values: dict[str, list[float | None]] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


def parse_number(cell: str) -> float | None:
    """The number a spreadsheet cell shows; None for an empty cell.

    Raises:
        ValueError: the cell is not a finite number.
    """
    text = _SPACES.sub("", cell)
    if not text:
        return None
    if "," in text and "." in text:
        # The later mark is the decimal one: 12,500.5 or 12.500,5.
        thousands = "," if text.rfind(",") < text.rfind(".") else "."
        text = text.replace(thousands, "")
        text = text.replace(",", ".")
    elif "," in text:
        text = text.replace(",", "") if _COMMA_THOUSANDS.fullmatch(text) else text.replace(",", ".")
    if not _NUMBER.fullmatch(text):
        raise ValueError("is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("is not a finite number")
    return value


def _shown(cell: str) -> str:
    cell = cell.strip()
    return repr(cell if len(cell) <= 20 else cell[:20] + "…")


def _lookup(units: Mapping[str, str]) -> dict[str, str]:
    """Unit keys by their key and name, case-folded (``units``: key → name)."""
    found: dict[str, str] = {}
    for key, name in units.items():
        found.setdefault(name.strip().casefold(), key)
    for key in units:
        found[key.casefold()] = key
    return found


def parse_paste(text: str, units: Mapping[str, str], periods: Sequence[str]) -> Pasted:
    """Read ``text`` (tab-separated rows) for the grid's ``units`` (key → name) and
    ``periods`` (their labels, the columns after the unit)."""
    if len(text) > MAX_CHARS:
        return Pasted(errors=(f"the paste has more than {MAX_CHARS} characters",))
    lines = text.splitlines()
    if len(lines) > MAX_ROWS:
        return Pasted(errors=(f"the paste has more than {MAX_ROWS} rows",))
    lookup = _lookup(units)
    values: dict[str, list[float | None]] = {}
    first_row: dict[str, int] = {}
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = line.split("\t")
        if not values and not errors and cells[0].strip().casefold() in _HEADER:
            continue
        errors.extend(_row(number, cells, lookup, periods, values, first_row))
        if len(errors) >= MAX_ERRORS:
            errors = [*errors[:MAX_ERRORS], "… and more: correct these first"]
            break
    if not values and not errors:
        errors.append("nothing to read: paste rows copied from a spreadsheet")
    return Pasted(errors=tuple(errors)) if errors else Pasted(values=values)


def _row(
    number: int,
    cells: list[str],
    lookup: Mapping[str, str],
    periods: Sequence[str],
    values: dict[str, list[float | None]],
    first_row: dict[str, int],
) -> list[str]:
    where = f"row {number}"
    if len(cells) == 1 and len(periods) > 1:
        return [f"{where}: no tab between the cells (copy the cells from a spreadsheet)"]
    key = lookup.get(cells[0].strip().casefold())
    if key is None:
        return [f"{where}, column 1: no unit {_shown(cells[0])} in this grid"]
    if key in first_row:
        return [f"{where}, column 1: {key} is on row {first_row[key]} already"]
    extra = [c for c in cells[1 + len(periods) :] if c.strip()]
    if extra:
        return [f"{where}, column {len(periods) + 2}: the grid has only {len(periods)} period(s)"]
    errors: list[str] = []
    read: list[float | None] = []
    for index, label in enumerate(periods):
        cell = cells[index + 1] if index + 1 < len(cells) else ""
        try:
            read.append(parse_number(cell))
        except ValueError as exc:
            errors.append(f"{where}, column {index + 2} ({label}): {_shown(cell)} {exc}")
            read.append(None)
    first_row[key] = number
    if not errors:
        values[key] = read
    return errors
