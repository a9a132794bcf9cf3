"""Checking what the browser sends to the log viewers' callbacks (all untrusted).

Each parser returns a clean value or raises ``ValueError`` with a message fit for users that
never echoes the value. Who may read the logs is decided by ``models.queries.admin.logs``.
"""

from __future__ import annotations

import datetime as dt

from dashboard.common import params
from dashboard.steward import quarantine_params as qp
from models.enums import Outcome
from models.queries.admin.logs import MAX_TEXT, LogFilter

SYSTEM = "system"
"""The user filter's value for rows without a user (system actors, refused anonymous)."""
ORDERS = {"newest": True, "oldest": False}
MAX_TARGET_TYPES = 20
MAX_TARGET_TYPE = 64


def user(value: object) -> tuple[int | None, bool]:
    """(user id, system): the user filter; both empty for everyone."""
    if value == SYSTEM:
        return None, True
    return params.optional_id(value, "a user"), False


def contains(value: object) -> str | None:
    """The page-or-action (or action-or-target) text, None for none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("the text filter must be text")
    cleaned = value.strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_TEXT or not cleaned.isprintable():
        raise ValueError(f"the text filter must be 1 to {MAX_TEXT} printable characters")
    return cleaned


def target_types(value: object) -> tuple[str, ...]:
    """The audit log's target kinds chosen (none: every kind)."""
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > MAX_TARGET_TYPES:
        raise ValueError("the kind choice is malformed")
    chosen: list[str] = []
    for item in items:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_TARGET_TYPE:
            raise ValueError("unknown kind")
        if not item.isprintable():
            raise ValueError("unknown kind")
        if item not in chosen:
            chosen.append(item)
    return tuple(chosen)


def newest_first(value: object) -> bool:
    if value is None or value == "":
        return True
    if not isinstance(value, str) or value not in ORDERS:
        raise ValueError("unknown order")
    return ORDERS[value]


def log_filter(
    who: object,
    start: object,
    end: object,
    text: object,
    *,
    order: object,
    outcomes: object = None,
    kinds: object = None,
) -> LogFilter:
    """The filter bar's values; the time range covers whole UTC days, both ends included."""
    first, last = qp.day(start, "first"), qp.day(end, "last")
    if first is not None and last is not None and first > last:
        raise ValueError("the first date must not be after the last")
    user_id, system = user(who)
    return LogFilter(
        user_id=user_id,
        system=system,
        start=_midnight(first),
        end=_midnight(last + dt.timedelta(days=1)) if last is not None else None,
        text=contains(text),
        outcomes=tuple(params.choices(outcomes, Outcome, "outcome")),
        target_types=target_types(kinds),
        newest_first=newest_first(order),
    )


def _midnight(date: dt.date | None) -> dt.datetime | None:
    if date is None:
        return None
    return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)


def describe(chosen: LogFilter) -> dict[str, object]:
    """What was asked, for ``access_log``: which filters, never the text typed."""
    return {
        "user": chosen.user_id,
        "system": chosen.system,
        "from": None if chosen.start is None else chosen.start.date().isoformat(),
        "to": None if chosen.end is None else chosen.end.date().isoformat(),
        "text": chosen.text is not None,
        "outcomes": [o.value for o in chosen.outcomes],
        "kinds": list(chosen.target_types),
        "newest_first": chosen.newest_first,
    }
