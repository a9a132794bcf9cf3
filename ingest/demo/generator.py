"""A deterministic generator of realistic events: seasonality, trend and noise per source and unit.

Time is cut into cells (one source, one unit, one hour; or one day for daily feeds). Each cell
draws from its own random stream seeded by (seed, source, unit, time), so a cell always holds
the same events whatever window is asked for: overlapping history runs and a live simulator
produce identical events with identical ids, which the store deduplicates.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, NamedTuple

DEFAULT_SEED = 7
TREND_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""The trend is anchored to a fixed date (not to "now") so that a cell never changes."""
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)

EventBody = tuple[dict[str, float], dict[str, Any], dict[str, Any]]
MakeEvent = Callable[[random.Random, int, float], EventBody]
"""Draws one event's (measures, dims, attrs) from ``rng``; given its index in the cell and,
for daily feeds, the day's expected amount for the unit (0 for counted sources)."""


class Weighted:
    """A fixed categorical distribution, sampled with one uniform draw and a bisection."""

    def __init__(self, choices: Mapping[str, float]) -> None:
        self.values = tuple(choices)
        self._cumulative = tuple(accumulate(choices.values()))

    def pick(self, rng: random.Random) -> str:
        index = bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])
        return self.values[min(index, len(self.values) - 1)]


@dataclass(frozen=True, slots=True)
class UnitProfile:
    """A business unit as the generator sees it: its relative size and its time zone."""

    key: str
    weight: float
    utc_offset_h: int = 0


def _normalised(factors: Sequence[float]) -> tuple[float, ...]:
    mean = sum(factors) / len(factors)
    return tuple(f / mean for f in factors)


@dataclass(frozen=True, slots=True)
class SourceProfile:
    """How one source behaves.

    For a counted source ``per_day`` is events per day for the whole company on an average day
    at scale 1; for a daily feed (``daily_rows`` set) it is the amount per day, shared over
    one row per entry of ``daily_rows``.
    """

    key: str
    id_prefix: str
    per_day: float
    hourly: tuple[float, ...]
    """24 relative factors by local hour (normalised to mean 1)."""
    weekly: tuple[float, ...]
    """7 relative factors by local weekday, Monday first (normalised to mean 1)."""
    trend_per_year: float
    noise: float
    """Standard deviation of the log of a day's multiplicative noise."""
    make: MakeEvent
    daily_rows: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.hourly) != 24 or len(self.weekly) != 7:
            raise ValueError(f"{self.key}: hourly needs 24 factors and weekly 7")
        object.__setattr__(self, "hourly", _normalised(self.hourly))
        object.__setattr__(self, "weekly", _normalised(self.weekly))


class GeneratedEvent(NamedTuple):
    source_key: str
    event_id: str
    ts: dt.datetime
    unit_key: str
    measures: dict[str, float]
    dims: dict[str, Any]
    attrs: dict[str, Any]


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: exact (Knuth) for small means, normal approximation for large ones."""
    if lam <= 0:
        return 0
    if lam >= 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def floor_hour(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class Generator:
    """Events of ``sources`` for ``units``; equal arguments always give equal events."""

    units: Sequence[UnitProfile]
    sources: Sequence[SourceProfile]
    seed: int = DEFAULT_SEED
    scale: float = 1.0
    _share: dict[str, float] = field(init=False, repr=False)
    _units: dict[str, UnitProfile] = field(init=False, repr=False)
    _sources: dict[str, SourceProfile] = field(init=False, repr=False)
    _day_noise: dict[tuple[str, str, dt.date], float] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError("scale must be positive")
        total = sum(u.weight for u in self.units)
        self._share = {u.key: u.weight / total for u in self.units}
        self._units = {u.key: u for u in self.units}
        self._sources = {s.key: s for s in self.sources}
        self._day_noise = {}

    def source(self, key: str) -> SourceProfile:
        return self._sources[key]

    def _noise(self, source: SourceProfile, unit: str, day: dt.date) -> float:
        cached = self._day_noise.get((source.key, unit, day))
        if cached is None:
            rng = random.Random(f"{self.seed}|noise|{source.key}|{unit}|{day.isoformat()}")
            cached = rng.lognormvariate(0.0, source.noise)
            self._day_noise[(source.key, unit, day)] = cached
        return cached

    def day_level(self, source_key: str, unit_key: str, local_day: dt.date) -> float:
        """The unit's expected daily volume (or amount) on ``local_day``, noise included."""
        source = self._sources[source_key]
        years = (local_day - TREND_EPOCH.date()).days / 365.25
        trend = max(0.2, 1.0 + source.trend_per_year * years)
        return (
            source.per_day
            * self.scale
            * self._share[unit_key]
            * source.weekly[local_day.weekday()]
            * trend
            * self._noise(source, unit_key, local_day)
        )

    def expected_rate(self, source_key: str, unit_key: str, at: dt.datetime) -> float:
        """Expected events per hour of a counted source in a unit at ``at`` (timezone-aware)."""
        local = at.astimezone(dt.UTC) + dt.timedelta(hours=self._units[unit_key].utc_offset_h)
        hourly = self._sources[source_key].hourly[local.hour]
        return self.day_level(source_key, unit_key, local.date()) / 24.0 * hourly

    def hour_events(
        self, source_key: str, unit_key: str, hour_start: dt.datetime
    ) -> list[GeneratedEvent]:
        """The events of one unit in the hour starting at ``hour_start``, in time order."""
        source = self._sources[source_key]
        start = floor_hour(hour_start)
        stamp = f"{start:%Y%m%d%H}"
        rng = random.Random(f"{self.seed}|{source.key}|{unit_key}|{stamp}")
        count = poisson(rng, self.expected_rate(source_key, unit_key, start))
        offsets = sorted(rng.randrange(3_600_000) for _ in range(count))
        events = []
        for index, offset_ms in enumerate(offsets):
            measures, dims, attrs = source.make(rng, index, 0.0)
            events.append(
                GeneratedEvent(
                    source.key,
                    f"{source.id_prefix}-{unit_key}-{stamp}-{index:05d}",
                    start + dt.timedelta(milliseconds=offset_ms),
                    unit_key,
                    measures,
                    dims,
                    attrs,
                )
            )
        return events

    def day_rows(self, source_key: str, unit_key: str, day: dt.date) -> list[GeneratedEvent]:
        """A daily feed's rows for one unit and (UTC) day, stamped at midnight UTC."""
        source = self._sources[source_key]
        rng = random.Random(f"{self.seed}|{source.key}|{unit_key}|{day.isoformat()}")
        amount = self.day_level(source_key, unit_key, day)
        ts = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        rows = []
        for index, slot in enumerate(source.daily_rows):
            measures, dims, attrs = source.make(rng, index, amount)
            event_id = f"{source.id_prefix}-{unit_key}-{day:%Y%m%d}-{slot}"
            rows.append(GeneratedEvent(source.key, event_id, ts, unit_key, measures, dims, attrs))
        return rows

    def events(
        self, source_key: str, start: dt.datetime, end: dt.datetime
    ) -> Iterator[GeneratedEvent]:
        """Every event of a source with ``start <= ts < end``, hour by hour (or day by day).

        A daily feed yields a day only once it is over (``day + 1 <= end``), as a partner
        delivers yesterday's figures.
        """
        if self._sources[source_key].daily_rows:
            yield from self._daily_events(source_key, start, end)
            return
        hour = floor_hour(start)
        while hour < end:
            for unit in self.units:
                for event in self.hour_events(source_key, unit.key, hour):
                    if start <= event.ts < end:
                        yield event
            hour += _HOUR

    def _daily_events(
        self, source_key: str, start: dt.datetime, end: dt.datetime
    ) -> Iterator[GeneratedEvent]:
        day = start.astimezone(dt.UTC).date()
        if dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) < start:
            day += _DAY
        while dt.datetime.combine(day + _DAY, dt.time(), tzinfo=dt.UTC) <= end:
            for unit in self.units:
                yield from self.day_rows(source_key, unit.key, day)
            day += _DAY
