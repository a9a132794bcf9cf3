"""Reading the rule editor's form back into a :class:`~models.alerts.spec.RuleSpec` (pure).

Everything the browser sends is untrusted: :func:`parse_form` accepts only values of the
shapes the form produces and names every problem (``RuleInvalid``), never echoing the input.
Whether the KPI, unit, channels and owner may be used is checked by the write itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from dash import html

from dashboard.common.params import MAX_ID, MAX_KEY
from models.alerts.spec import MAX_NAME, WINDOWS, RuleInvalid, RuleSpec
from models.alerts.tables import AlertSeverity, Condition

MAX_MINUTES = 7 * 24 * 60
MAX_TIME_TEXT = 40


def _text(value: object, what: str, found: list[str], *, limit: int = MAX_KEY) -> str:
    if not isinstance(value, str) or len(value) > limit:
        found.append(f"choose {what}")
        return ""
    return value


def _number(value: object, what: str, found: list[str], *, required: bool) -> float | None:
    if value is None or value == "":
        if required:
            found.append(f"give the {what} as a number")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        found.append(f"the {what} must be a finite number")
        return None
    return float(value)


def _choice(value: object, allowed: Sequence[str], what: str, found: list[str]) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    found.append(f"choose {what}")
    return allowed[0]


def _moment(value: object, what: str, found: list[str]) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) <= MAX_TIME_TEXT:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    found.append(f"give the {what} as a date and time")
    return None


def _ids(value: object, what: str, found: list[str]) -> tuple[int, ...]:
    if value is None:
        return ()
    ok = isinstance(value, list) and len(value) <= 50
    items = value if isinstance(value, list) else []
    if ok and all(
        isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in items
    ):
        return tuple(sorted(set(items)))
    found.append(f"choose {what} from the list")
    return ()


def _flags(value: object, allowed: set[str], what: str, found: list[str]) -> set[str]:
    if value is None:
        return set()
    if (
        isinstance(value, list)
        and len(value) <= len(allowed)
        and all(v in allowed for v in value if isinstance(v, str))
        and all(isinstance(v, str) for v in value)
    ):
        return set(value)
    found.append(f"the {what} choice is malformed")
    return set()


def parse_form(values: Mapping[str, object]) -> RuleSpec:
    """The spec the form describes.

    Raises:
        RuleInvalid: naming every field of the wrong shape (not the values sent).
    """
    found: list[str] = []
    minutes = _number(values.get("for_min"), "duration in minutes", found, required=False) or 0.0
    if not 0 <= minutes <= MAX_MINUTES:
        found.append("the duration must lie between 0 and 7 days")
    window = values.get("window")
    if isinstance(window, bool) or not isinstance(window, int) or window not in WINDOWS:
        found.append("choose one of the evaluation windows offered")
        window = 3600
    owner = values.get("owner")
    if owner is not None and (
        isinstance(owner, bool) or not isinstance(owner, int) or not 0 < owner <= MAX_ID
    ):
        found.append("choose the owner from the list")
        owner = None
    notify = _flags(values.get("notify"), {"in_app", "email"}, "notification", found)
    spec = RuleSpec(
        name=_text(values.get("name"), "a name", found, limit=MAX_NAME),
        kpi_key=_text(values.get("kpi"), "a KPI", found),
        unit_key=_text(values.get("unit"), "an org unit", found),
        condition=Condition(
            _choice(values.get("condition"), [c.value for c in Condition], "a condition", found)
        ),
        threshold=_number(values.get("threshold"), "alert level", found, required=True) or 0.0,
        clear_threshold=_number(values.get("clear"), "clear level", found, required=False),
        for_s=round(minutes * 60),
        window_s=window,
        severity=AlertSeverity(
            _choice(values.get("severity"), [s.value for s in AlertSeverity], "a severity", found)
        ),
        mute_from=_moment(values.get("mute_from"), "mute start", found),
        mute_until=_moment(values.get("mute_until"), "mute end", found),
        notify_in_app="in_app" in notify,
        notify_email="email" in notify,
        channel_ids=_ids(values.get("channels"), "the channels", found),
        owner_user_id=owner,
        active="active" in _flags(values.get("active"), {"active"}, "state", found),
    )
    if found:
        raise RuleInvalid(found)
    return spec


def problems_view(problems: Sequence[str]) -> html.Div:
    """The problems of a submitted rule, each on its own line."""
    return html.Div(
        [
            html.Strong("The rule was not saved:" if problems else ""),
            html.Ul([html.Li(p[0].upper() + p[1:] + ".") for p in problems], className="mb-0"),
        ],
        role="alert",
        className="alert alert-warning mb-0",
    )


def parse_moment(value: object, what: str) -> dt.datetime | None:
    """A ``datetime-local`` field's value (UTC unless it names a zone); None when empty.

    Raises:
        ValueError: anything but a date and time.
    """
    found: list[str] = []
    moment = _moment(value, what, found)
    if found:
        raise ValueError(found[0])
    return moment
