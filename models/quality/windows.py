"""The 15-minute windows the checks judge, and the same window in previous weeks (pure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WINDOW = dt.timedelta(minutes=15)
WEEK = dt.timedelta(days=7)
_ORIGIN = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""A UTC midnight (a Saturday): windows start at whole quarter hours of UTC."""


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A half-open UTC interval ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime

    def shifted(self, by: dt.timedelta) -> Window:
        return Window(self.start + by, self.end + by)

    def label(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M} UTC"


def floor_to(moment: dt.datetime, width: dt.timedelta) -> dt.datetime:
    """The start of the ``width``-long UTC interval (counted from 2000-01-01) holding ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("data-quality times must be timezone-aware")
    moment = moment.astimezone(dt.UTC)
    return moment - (moment - _ORIGIN) % width


def window_at(moment: dt.datetime) -> Window:
    """The 15-minute window holding ``moment``."""
    start = floor_to(moment, WINDOW)
    return Window(start, start + WINDOW)


def settled_window(now: dt.datetime, settle: dt.timedelta) -> Window:
    """The newest window that closed at least ``settle`` before ``now``."""
    end = floor_to(now - settle, WINDOW)
    return Window(end - WINDOW, end)


def same_window_before(window: Window, weeks: int) -> list[Window]:
    """The same window of the week in each of the ``weeks`` previous weeks, newest first."""
    return [window.shifted(-WEEK * k) for k in range(1, weeks + 1)]


def duration_text(seconds: float) -> str:
    """A duration as people say it: ``45 s``, ``12 min``, ``5 h``, ``3 days``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86_400:.0f} days"
