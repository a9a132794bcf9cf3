"""Load of the ingest benchmark: HTTP producers (closed loop or paced) and freshness probes.

Producers are threads of the bench process, each with one kept-alive ``http.client``
connection, posting pre-rendered templates: sending a 300 kB body is a system call that
releases the GIL, so a handful of threads keep several requests in flight for little CPU.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from bench.ingest_data import PROBE_SOURCE, Template, World, minute_now, probe_body
from models.enums import Granularity
from models.queries.common import Period, read_connection
from models.queries.executive.rollups import fetch_stats, plan_reads
from models.settings import Settings

RETRY_CAP_S = 1.0
"""429/503 are retried after ``Retry-After`` capped at this: the bench wants the streams kept
full, and the cap only changes how soon a producer asks again."""
_tokens = itertools.count(1)


@dataclass
class Tally:
    """What the producers were told, and how long the requests took."""

    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    refused: int = 0
    """429/503 answers (each retried)."""
    errors: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.refused += other.refused
        self.errors += other.errors
        self.seconds += other.seconds


class Pacer:
    """Hands out send times ``rate`` requests per second apart (None: as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def wait(self, stop: threading.Event) -> None:
        if self.rate is None:
            return
        with self._lock:
            due = max(self._next, time.monotonic() - 1.0)  # never burst more than 1 s late
            self._next = due + 1.0 / self.rate
        stop.wait(max(0.0, due - time.monotonic()))


class Client:
    """One kept-alive connection; :meth:`post` retries refusals and broken connections."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, source: str, key: str, body: bytes, tally: Tally) -> int:
        """Post until answered 202 (returns accepted) or 5 failures (returns -1)."""
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        path = f"/api/v1/sources/{source}/events"
        for _attempt in range(5):
            started = time.monotonic()
            try:
                self.connection.request("POST", path, body=body, headers=headers)
                response = self.connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException):
                tally.errors += 1
                self.connection.close()  # reconnects on the next request
                time.sleep(0.2)
                continue
            tally.requests += 1
            if response.status == 202:
                tally.seconds.append(time.monotonic() - started)
                document = json.loads(answer)
                tally.accepted += document["accepted"]
                tally.rejected += document["rejected"]
                return int(document["accepted"])
            if response.status in (429, 503):
                tally.refused += 1
                wait = float(response.getheader("Retry-After") or 1)
                time.sleep(min(wait, RETRY_CAP_S))
                continue
            raise RuntimeError(f"{path} answered {response.status}: {answer[:300]!r}")
        return -1


class Producers:
    """``count`` producer threads posting ``templates`` until :meth:`stop`."""

    def __init__(
        self, port: int, world: World, templates: Sequence[Template], count: int, rate: float | None
    ) -> None:
        self.world = world
        self.templates = templates
        self.pacer = Pacer(rate)
        self.stop_event = threading.Event()
        self.tallies = [Tally() for _ in range(count)]
        self.failures: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._run, args=(Client(port), t), daemon=True)
            for t in self.tallies
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _run(self, client: Client, tally: Tally) -> None:
        try:
            while not self.stop_event.is_set():
                self.pacer.wait(self.stop_event)
                if self.stop_event.is_set():
                    return
                token = next(_tokens)
                template = self.templates[token % len(self.templates)]
                body = template.render(token, minute_now())
                client.post(template.source, self.world.keys[template.source], body, tally)
        except BaseException as exc:  # reported by the main thread, never swallowed
            self.failures.append(exc)
        finally:
            client.connection.close()

    def total(self) -> Tally:
        total = Tally()
        for tally in self.tallies:
            total.add(tally)
        return total

    def stop(self) -> Tally:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(70)
        if self.failures:
            raise RuntimeError(f"a producer failed: {self.failures[0]!r}") from self.failures[0]
        return self.total()


@dataclass
class ProbeResults:
    fresh_s: list[float] = field(default_factory=list)
    """From the 202 answer to the first read that shows the probe."""
    from_send_s: list[float] = field(default_factory=list)
    """From sending the request (so including the API's own time)."""
    timeouts: int = 0
    accepted: int = 0


class Prober:
    """One probe at a time: post one order to the probe unit, then read its event count
    through the query layer every ``poll_s`` until the count includes it."""

    POLL_S = 0.01
    TIMEOUT_S = 15.0

    def __init__(self, port: int, world: World, engine: Engine, settings: Settings) -> None:
        self.client = Client(port)
        self.world = world
        self.engine = engine
        self.settings = settings
        self.stop_event = threading.Event()
        self.results = ProbeResults()
        self.failures: list[BaseException] = []
        self.since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        self.run = f"{time.time_ns():x}"
        self.seen = self.count()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def count(self) -> float:
        """Events at the probe unit, as a dashboard would read them (models.queries)."""
        period = Period.covering(self.since, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
        with read_connection(self.engine, self.settings) as connection:
            found = fetch_stats(
                connection,
                scope_paths=(self.world.probe_unit_path,),
                unit_id=self.world.probe_unit_id,
                unit_path=self.world.probe_unit_path,
                metric_ids=[self.world.probe_metric_id],
                plan=plan_reads(period, Granularity.DAY),
                max_rows=1,
            )
        stats = found.get((0, None), {}).get(self.world.probe_metric_id)
        return stats.n if stats else 0.0

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        tally = Tally()
        key = self.world.keys[PROBE_SOURCE]
        try:
            for sequence in itertools.count():
                if self.stop_event.wait(0.2):
                    return
                sent = time.monotonic()
                if self.client.post(PROBE_SOURCE, key, probe_body(sequence, self.run), tally) < 1:
                    continue
                accepted = time.monotonic()
                self.results.accepted += 1
                target = self.seen + 1
                while self.count() < target:
                    if time.monotonic() - accepted > self.TIMEOUT_S:
                        self.results.timeouts += 1
                        break
                    time.sleep(self.POLL_S)
                else:
                    visible = time.monotonic()
                    self.results.fresh_s.append(visible - accepted)
                    self.results.from_send_s.append(visible - sent)
                self.seen = target
        except BaseException as exc:
            self.failures.append(exc)

    def stop(self) -> ProbeResults:
        self.stop_event.set()
        self.thread.join(self.TIMEOUT_S + 5)
        if self.failures:
            raise RuntimeError(f"the prober failed: {self.failures[0]!r}") from self.failures[0]
        return self.results


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0 to 1) of ``values``, inclusive method; None when empty."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]
