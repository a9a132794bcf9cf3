"""What the ingest edge and the workers accept beyond the contract: the event-time window and
the range of measures that can be aggregated.

Event times outside the window would create day partitions that retention never drops (or
that cannot exist at all: the day after 9999-12-31); a measure whose square overflows a
float8 breaks the rollups of every record written with it. Both are refused per record, at the
edge with a reason, and again by the worker for records published before (or by replay).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from models.settings import Settings

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAY_US = 86_400_000_000
MEASURE_LIMIT = 1e100
"""Largest magnitude of a measure: its square (the rollups' sum of squares) stays far inside
float8, however many events a bucket folds."""


@dataclass(frozen=True, slots=True)
class EventWindow:
    """Event times accepted: from UTC midnight of ``floor`` to ``max_future_s`` after now."""

    floor: dt.date
    max_future_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> EventWindow:
        return cls(settings.ingest_min_event_date, settings.ingest_max_future_s)

    @property
    def floor_us(self) -> int:
        return (self.floor - _EPOCH.date()).days * _DAY_US

    def ceiling_us(self, now_s: float | None = None) -> int:
        now = time.time() if now_s is None else now_s
        return int((now + self.max_future_s) * 1_000_000)

    def problem(self, ts_us: int, now_s: float | None = None) -> str | None:
        """Why an event at ``ts_us`` (microseconds since the epoch) is refused, or None."""
        if ts_us < self.floor_us:
            return f"is before {self.floor.isoformat()}, the earliest event time accepted"
        ceiling = self.ceiling_us(now_s)
        if ts_us > ceiling:
            latest = _EPOCH + dt.timedelta(microseconds=ceiling)
            return (
                f"is more than {self.max_future_s} s in the future "
                f"(latest accepted now: {latest:%Y-%m-%dT%H:%M:%SZ})"
            )
        return None

    def days(self, now_s: float | None = None) -> tuple[dt.date, dt.date]:
        """The first and last UTC day an accepted event can fall on (for partitions)."""
        last = (self.ceiling_us(now_s) // _DAY_US) * _DAY_US
        return self.floor, (_EPOCH + dt.timedelta(microseconds=last)).date()
