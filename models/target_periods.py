"""Target periods: months, fiscal quarters and fiscal years, and their keys (pure).

A plan's period is stored as the date of its first day and its grain. Keys are what people
write: ``2026-03`` (a calendar month), ``2026-Q1`` or ``FY2026-Q1`` (the first quarter of
fiscal year 2026), ``FY2026`` or ``2026`` (fiscal year 2026), or the first day as an ISO date
(``2025-04-01``), which is always accepted. Fiscal year ``FY2026`` is the one that **ends** in
2026: with fiscal years starting in April it runs from 2025-04-01 to 2026-03-31, and its Q1 is
April to June 2025. With the default start month (January) fiscal and calendar years agree.
"""

from __future__ import annotations

import datetime as dt
import re

from models.enums import TargetGrain

MONTHS = {TargetGrain.MONTH: 1, TargetGrain.QUARTER: 3, TargetGrain.YEAR: 12}
"""How many calendar months a period of each grain spans."""
_MONTH_KEY = re.compile(r"(\d{4})-(\d{2})")
_QUARTER_KEY = re.compile(r"(?:FY)?(\d{4})-Q([1-4])")
_YEAR_KEY = re.compile(r"(?:FY)?(\d{4})")
_DATE_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")


class PeriodKeyError(ValueError):
    """A period key that does not name a period of the grain it is given for."""


def add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_end(grain: TargetGrain, start: dt.date) -> dt.date:
    """The day after the period's last day."""
    return add_months(start, MONTHS[grain])


def fiscal_year_start(fiscal_year: int, start_month: int) -> dt.date:
    """The first day of fiscal year ``fiscal_year`` (named by the year it ends in)."""
    return dt.date(fiscal_year if start_month == 1 else fiscal_year - 1, start_month, 1)


def fiscal_year_of(day: dt.date, start_month: int) -> int:
    """The fiscal year ``day`` lies in."""
    if start_month == 1:
        return day.year
    return day.year + 1 if day.month >= start_month else day.year


def parse_period(key: str, grain: TargetGrain, start_month: int) -> dt.date:
    """The first day of the period ``key`` names at ``grain``.

    Raises:
        PeriodKeyError: the key is malformed, of another grain, or (as an ISO date) not the
            first day of a month.
    """
    text = key.strip().upper()
    if _DATE_KEY.fullmatch(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise PeriodKeyError(f"period {key!r} is not a date: {exc}") from None
        if day.day != 1:
            raise PeriodKeyError(f"period {key!r} must start on the first day of a month")
        return day
    if grain is TargetGrain.MONTH and (found := _MONTH_KEY.fullmatch(text)):
        month = int(found[2])
        if not 1 <= month <= 12:
            raise PeriodKeyError(f"period {key!r}: there is no month {month}")
        return dt.date(int(found[1]), month, 1)
    if grain is TargetGrain.QUARTER and (found := _QUARTER_KEY.fullmatch(text)):
        first = fiscal_year_start(int(found[1]), start_month)
        return add_months(first, 3 * (int(found[2]) - 1))
    if grain is TargetGrain.YEAR and (found := _YEAR_KEY.fullmatch(text)):
        return fiscal_year_start(int(found[1]), start_month)
    examples = {
        TargetGrain.MONTH: "2026-01",
        TargetGrain.QUARTER: "2026-Q1",
        TargetGrain.YEAR: "FY2026",
    }
    raise PeriodKeyError(
        f"period {key!r} is not a {grain.value} key: write e.g. {examples[grain]!r} "
        "or the period's first day such as '2026-01-01'"
    )


def period_key(grain: TargetGrain, start: dt.date, start_month: int) -> str:
    """The key of the period starting ``start``: ``2026-01``, ``2026-Q1``, ``FY2026``; the
    ISO date when the period does not line up with the fiscal calendar of ``start_month``."""
    if grain is TargetGrain.MONTH:
        return f"{start.year:04d}-{start.month:02d}"
    offset = (start.month - start_month) % 12
    year = fiscal_year_of(start, start_month)
    if grain is TargetGrain.QUARTER and offset % 3 == 0:
        return f"{year:04d}-Q{offset // 3 + 1}"
    if grain is TargetGrain.YEAR and offset == 0:
        return f"FY{year:04d}"
    return start.isoformat()


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first days of the months from ``start``'s month up to (not including) ``end``."""
    found, month = [], dt.date(start.year, start.month, 1)
    while month < end:
        found.append(month)
        month = add_months(month, 1)
    return found


def period_bounds(grain: TargetGrain, start: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC range ``[start, end)`` of the period (to ask ``target_for`` about a plan
    period, e.g. ``period_bounds(grain, parse_period("2026-Q1", grain, 4))``)."""
    end = period_end(grain, start)
    return (
        dt.datetime(start.year, start.month, 1, tzinfo=dt.UTC),
        dt.datetime(end.year, end.month, 1, tzinfo=dt.UTC),
    )
