"""The live simulator: realistic events for every demo source, posted to the ingest API.

Volumes follow the demo generator (daily and weekly seasonality per unit time zone, trend,
noise): ``rate`` is the mean total over a week, so the instantaneous rate rises and falls with
the hour. Events get fresh ids (``<prefix>-sim-<run>-<n>``) so they never collide with the
back-filled history. Faults come from an :class:`~ingest.faults.FaultSchedule`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ingest.demo.catalog import SOURCES
from ingest.demo.generator import Generator, SourceProfile, poisson
from ingest.demo.history import demo_generator
from ingest.faults import DRIFT_FIELD, LATE_RANGE_S, FaultKind, FaultSchedule, FaultWindow
from ingest.simulator_http import IngestClient, Outcome
from models.contracts import FieldRole, FieldType

log = logging.getLogger(__name__)

_ID_FIELD = {s.key: next(f.name for f in s.fields if f.role is FieldRole.EVENT_ID) for s in SOURCES}
_INT_FIELDS = {s.key: {f.name for f in s.fields if f.type is FieldType.INT} for s in SOURCES}
_BOUNDED_MEASURE = {
    s.key: next(f.name for f in s.fields if f.role is FieldRole.MEASURE and f.min is not None)
    for s in SOURCES
}
_MALFORMATIONS = ("broken_json", "wrong_type", "missing_field", "out_of_range")
_REFERRERS = ("google", "newsletter", "partner-site", "social")


def mean_rate_at_scale_one(generator: Generator) -> float:
    """Events per second of the generator's streaming sources on an average day at scale 1."""
    return sum(s.per_day for s in generator.sources if not s.daily_rows) / 86_400.0


def scale_for(rate: float, seed: int) -> float:
    """The generator scale whose mean total rate is ``rate`` events per second."""
    return rate / mean_rate_at_scale_one(demo_generator(seed=seed))


@dataclass
class Batch:
    """One request's worth of records for one source; ``lines`` are NDJSON lines when a fault
    put text into the batch that is not JSON (a producer's broken serializer)."""

    source: str
    records: list[Any]
    malformed: int = 0
    broken_lines: list[int] = field(default_factory=list)

    def body(self) -> tuple[bytes, str]:
        if not self.broken_lines:
            return json.dumps(self.records).encode(), "application/json"
        lines = [
            "{" + json.dumps(r)[1:20] if n in self.broken_lines else json.dumps(r)
            for n, r in enumerate(self.records)
        ]
        return ("\n".join(lines) + "\n").encode(), "application/x-ndjson"

    @property
    def event_ids(self) -> list[str]:
        id_field = _ID_FIELD[self.source]
        return [str(r.get(id_field)) for r in self.records if isinstance(r, dict)]


@dataclass
class Stats:
    """What the simulator sent and what the API answered, by source."""

    posted: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    malformed: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    """Records of requests given up after retries (not accepted, to be counted as lost)."""

    def line(self) -> str:
        return (
            f"posted {sum(self.posted.values())}, accepted {sum(self.accepted.values())}, "
            f"rejected {sum(self.rejected.values())} (malformed sent "
            f"{sum(self.malformed.values())}), duplicates {sum(self.duplicates.values())}, "
            f"failed {sum(self.failed.values())}"
        )


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class EventMaker:
    """Draws the simulator's events: the generator's volumes, bodies and ids of its own."""

    def __init__(self, rate: float, seed: int, run_id: str | None = None) -> None:
        self.generator = demo_generator(seed=seed, scale=scale_for(rate, seed))
        self.daily = demo_generator(seed=seed)
        """Scale 1, as the history: a daily feed's rows are the very rows history wrote."""
        self.rng = random.Random(seed)
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self._sequence = 0

    @property
    def streaming(self) -> tuple[SourceProfile, ...]:
        return tuple(s for s in self.generator.sources if not s.daily_rows)

    def record(self, profile: SourceProfile, unit: str, at: dt.datetime) -> dict[str, Any]:
        measures, dims, attrs = profile.make(self.rng, self._sequence, 0.0)
        self._sequence += 1
        ints = _INT_FIELDS[profile.key]
        body: dict[str, Any] = {
            _ID_FIELD[profile.key]: f"{profile.id_prefix}-sim-{self.run_id}-{self._sequence:09d}",
            "ts": _stamp(at),
            "org_unit": unit,
        }
        body |= {k: int(v) if k in ints else v for k, v in measures.items()}
        return body | dims | attrs

    def records(
        self, profile: SourceProfile, now: dt.datetime, seconds: float, factor: float = 1.0
    ) -> Iterator[dict[str, Any]]:
        """The source's events of the ``seconds`` before ``now``, in every unit."""
        for unit in self.generator.units:
            per_s = self.generator.expected_rate(profile.key, unit.key, now) / 3_600.0
            for _ in range(poisson(self.rng, per_s * seconds * factor)):
                at = now - dt.timedelta(seconds=self.rng.uniform(0.0, seconds))
                yield self.record(profile, unit.key, at)

    def daily_rows(self, day: dt.date) -> list[Batch]:
        """Each daily feed's rows for ``day`` (sent once the day is over)."""
        batches = []
        for profile in self.daily.sources:
            if not profile.daily_rows:
                continue
            rows = []
            for unit in self.daily.units:
                for event in self.daily.day_rows(profile.key, unit.key, day):
                    measures = {
                        k: int(v) if k in _INT_FIELDS[profile.key] else v
                        for k, v in event.measures.items()
                    }
                    rows.append(
                        {
                            _ID_FIELD[profile.key]: event.event_id,
                            "ts": _stamp(event.ts),
                            "org_unit": event.unit_key,
                        }
                        | measures
                        | event.dims
                        | event.attrs
                    )
            batches.append(Batch(profile.key, rows))
        return batches


def _malform(record: dict[str, Any], how: str, source: str) -> dict[str, Any]:
    broken = dict(record)
    measure = _BOUNDED_MEASURE[source]
    if how == "wrong_type":
        broken[measure] = "n/a"
    elif how == "missing_field":
        broken.pop("ts")
    elif how == "out_of_range":
        broken[measure] = -1
    return broken


def apply_faults(
    batch: Batch, faults: dict[FaultKind, FaultWindow], rng: random.Random, now: dt.datetime
) -> Batch:
    """The batch as the faults in force change it (silence is handled by the caller)."""
    malformed = faults.get(FaultKind.MALFORMED)
    drift = faults.get(FaultKind.DRIFT)
    late = faults.get(FaultKind.LATE)
    for n, record in enumerate(batch.records):
        if late and rng.random() < late.intensity:
            record["ts"] = _stamp(now - dt.timedelta(seconds=rng.uniform(*LATE_RANGE_S)))
        if drift and rng.random() < drift.intensity:
            record[DRIFT_FIELD] = rng.choice(_REFERRERS)
        if malformed and rng.random() < malformed.intensity:
            how = _MALFORMATIONS[batch.malformed % len(_MALFORMATIONS)]
            batch.malformed += 1
            if how == "broken_json":
                batch.broken_lines.append(n)
            else:
                batch.records[n] = _malform(record, how, batch.source)
    return batch


class Simulator:
    """Posts one tick of events per :meth:`tick`; ``ingest.simulator_run.run`` paces it."""

    def __init__(
        self,
        client: IngestClient,
        keys: dict[str, str],
        schedule: FaultSchedule,
        *,
        rate: float,
        seed: int,
    ) -> None:
        self.client = client
        self.keys = keys
        self.schedule = schedule
        self.maker = EventMaker(rate, seed)
        self.stats = Stats()
        self.last_batches: dict[str, Batch] = {}

    def batches(self, now: dt.datetime, elapsed_s: float, seconds: float) -> list[Batch]:
        """The tick's batches, faults applied; a silent source has none."""
        out = []
        for profile in self.maker.streaming:
            faults = self.schedule.active_for(profile.key, elapsed_s)
            if FaultKind.SILENCE in faults:
                continue
            spike = faults.get(FaultKind.SPIKE)
            factor = spike.intensity if spike else 1.0
            records: list[Any] = list(self.maker.records(profile, now, seconds, factor))
            if records:
                batch = apply_faults(Batch(profile.key, records), faults, self.maker.rng, now)
                out.append(batch)
        return out

    def send(self, batch: Batch, repeats: int = 0) -> Outcome:
        """Post ``batch`` (and then ``repeats`` more times, the same bytes) and count."""
        body, content_type = batch.body()
        outcome = Outcome(0, 0, 0)
        for attempt in range(1 + repeats):
            outcome = self.client.post_events(
                batch.source, self.keys[batch.source], body, content_type
            )
            self.stats.posted[batch.source] += len(batch.records)
            self.stats.duplicates[batch.source] += len(batch.records) if attempt else 0
            self.stats.accepted[batch.source] += outcome.accepted
            self.stats.rejected[batch.source] += outcome.rejected
            if outcome.status != 202:
                self.stats.failed[batch.source] += len(batch.records)
        self.stats.malformed[batch.source] += batch.malformed
        self.last_batches[batch.source] = batch
        return outcome

    def tick(self, now: dt.datetime, elapsed_s: float, seconds: float = 1.0) -> list[Batch]:
        """Post the events of the ``seconds`` before ``now``; returns the batches sent."""
        sent = self.batches(now, elapsed_s, seconds)
        for batch in sent:
            duplicates = self.schedule.active_for(batch.source, elapsed_s).get(FaultKind.DUPLICATES)
            self.send(batch, int(duplicates.intensity) if duplicates else 0)
        return sent

    def send_daily(self, day: dt.date) -> None:
        for batch in self.maker.daily_rows(day):
            if batch.source in self.keys:
                self.send(batch)
