"""Checking what the browser sends to the quarantine browser's callbacks (all untrusted).

Each parser returns a clean value or raises ``ValueError`` with a message fit for users that
never echoes the value. Whether the user may see or change what a valid value names is
decided by the queries and actions (``models.queries.steward.quarantine_view``,
``models.quarantine_actions``).
"""

from __future__ import annotations

import datetime as dt
import re

from dashboard.common import params
from models.enums import QuarantineStatus
from models.quarantine_actions import MAX_DISCARD, MAX_REASON
from models.queries.steward.quarantine_view import MAX_MATCH, QuarantineFilter

STATUS_CHOICES = {
    "open": (QuarantineStatus.OPEN,),
    "replayed": (QuarantineStatus.REPLAYED,),
    "discarded": (QuarantineStatus.DISCARDED,),
    "all": (),
}
"""The status filter's options; ``all`` is no restriction."""
DEFAULT_STATUS = "open"
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T00:00:00)?$")
MAX_PAGE = 10_000


def match_text(value: object) -> str | None:
    """The rule-or-reason text (None for none): at most 200 printable characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("the rule or reason must be text")
    cleaned = value.strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_MATCH or not cleaned.isprintable():
        raise ValueError(f"the rule or reason must be 1 to {MAX_MATCH} printable characters")
    return cleaned


def status(value: object) -> tuple[QuarantineStatus, ...]:
    if value is None or value == "":
        value = DEFAULT_STATUS
    if not isinstance(value, str) or value not in STATUS_CHOICES:
        raise ValueError("unknown status")
    return STATUS_CHOICES[value]


def day(value: object, what: str) -> dt.date | None:
    """A date picker's value (``YYYY-MM-DD``), None for none."""
    if value is None or value == "":
        return None
    found = _DATE.match(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"the {what} date must be a date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(found[1])
    except ValueError:
        raise ValueError(f"the {what} date is not a real date") from None


def quarantine_filter(
    source: object, match: object, status_value: object, start: object, end: object
) -> QuarantineFilter:
    """The filter bar's values; the time range covers whole UTC days, both ends included."""
    first, last = day(start, "first"), day(end, "last")
    if first is not None and last is not None and first > last:
        raise ValueError("the first date must not be after the last")
    return QuarantineFilter(
        source_id=params.optional_id(source, "a source"),
        match=match_text(match),
        received_from=_midnight(first),
        received_to=_midnight(last + dt.timedelta(days=1)) if last is not None else None,
        statuses=status(status_value),
    )


def _midnight(date: dt.date | None) -> dt.datetime | None:
    if date is None:
        return None
    return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)


def page_number(value: object) -> int:
    """The pagination's active page (1 when none)."""
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PAGE:
        raise ValueError("the page must be a page number")
    return value


def selected_ids(rows: object) -> list[int]:
    """The record ids of the grid's selected rows (each row a dict with its ``id``)."""
    if rows is None:
        return []
    if not isinstance(rows, list) or len(rows) > MAX_DISCARD:
        raise ValueError(f"select at most {MAX_DISCARD:,} records")
    ids = []
    for row in rows:
        if not isinstance(row, dict):
            raise ValueError("the selection is malformed")
        ids.append(params.record_id(row.get("id"), "a record"))
    return ids


def clicked_record(cell: object) -> int | None:
    """The record of a clicked grid cell (its row id), None when nothing was clicked."""
    if cell is None:
        return None
    if not isinstance(cell, dict):
        raise ValueError("the clicked cell is malformed")
    return params.record_id(cell.get("rowId"), "a record")


def reason(value: object) -> str:
    """A discard reason as typed (required: checked again by the action)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("a reason must be text")
    if len(value) > MAX_REASON:
        raise ValueError(f"a reason may have at most {MAX_REASON} characters")
    return value
