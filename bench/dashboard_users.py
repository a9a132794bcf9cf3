"""Simulated signed-in users: each makes one interaction every few seconds, on a fixed beat.

Each user is a thread of the bench process with its own session (cookie) and kept-alive
connection. Its beat starts at a random offset within the first interval; an interaction that
overruns its slot delays only that user's next one. An interaction is one of, with equal
chances:

- ``overview``: a new period or unit on the Overview (one ``update_tiles`` request; the unit
  among those the user's scope selector offers);
- ``kpi``: opening a KPI page for a unit of the scope and a period (the page router's request,
  then the body's ``kpi_view``: two requests in sequence, as the browser makes them);
- ``events``: one of the first five 100-row blocks of the events grid of a KPI, unit, period.

An interaction's latency is from sending its first request to reading its last answer.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.dashboard_data import KPI_KEYS, Account, subtree
from bench.dashboard_http import Answer, Browser, Outcome
from bench.dashboard_pages import OVERVIEW_PERIOD, OVERVIEW_UNIT, PERIODS, Pages
from bench.dashboard_timing import ms
from bench.ingest_load import percentile

KINDS = ("overview", "kpi", "events")
EVENT_BLOCKS = 5


@dataclass
class Interaction:
    kind: str
    seconds: float
    outcome: Outcome
    requests: list[Answer]


@dataclass
class Tally:
    """What every user did in the window (appended by the user threads; lists are safe)."""

    interactions: list[Interaction] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)


def _worst(answers: Sequence[Answer]) -> Outcome:
    for outcome in (Outcome.ERROR, Outcome.BUSY, Outcome.THROTTLED):
        if any(a.outcome is outcome for a in answers):
            return outcome
    return Outcome.OK


class User:
    """One simulated executive."""

    def __init__(self, browser: Browser, account: Account, pages: Pages, seed: int) -> None:
        self.browser = browser
        self.pages = pages
        self.rng = random.Random(seed)
        self.selector = subtree(account.scope, with_business_units=False)
        self.units = subtree(account.scope, with_business_units=True)

    def interact(self) -> Interaction:
        rng, pages = self.rng, self.pages
        kind = rng.choice(KINDS)
        period = rng.choice(PERIODS)
        kpi = rng.choice(KPI_KEYS)
        bodies: list[dict[str, Any]]
        if kind == "overview":
            changed = rng.choice((OVERVIEW_PERIOD, OVERVIEW_UNIT))
            bodies = [pages.overview_body(period, rng.choice(self.selector), changed)]
        elif kind == "kpi":
            unit = rng.choice(self.units)
            bodies = [pages.kpi_open_body(kpi, unit, period), pages.kpi_body(kpi, unit, period)]
        else:
            block = rng.randrange(EVENT_BLOCKS)
            bodies = [pages.events_body(kpi, rng.choice(self.selector), period, block)]
        started = time.perf_counter()
        answers = [self.browser.callback(body) for body in bodies]
        seconds = time.perf_counter() - started
        return Interaction(kind, seconds, _worst(answers), answers)


class Crowd:
    """``users`` on a beat of ``interval_s`` from :meth:`start` until :meth:`stop`."""

    def __init__(self, users: Sequence[User], interval_s: float) -> None:
        self.users = users
        self.interval_s = interval_s
        self.tally = Tally()
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(u, n), daemon=True)
            for n, u in enumerate(users)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _run(self, user: User, n: int) -> None:
        # Offsets spread evenly over one interval (in a shuffled order): a steady arrival rate.
        due = time.monotonic() + self.interval_s * ((n * 0.618034) % 1.0)
        try:
            while not self.stop_event.wait(max(0.0, due - time.monotonic())):
                self.tally.interactions.append(user.interact())
                due = max(due + self.interval_s, time.monotonic())
        except BaseException as exc:  # reported by the main thread, never swallowed
            self.tally.failures.append(exc)
        finally:
            user.browser.close()

    def stop(self) -> Tally:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(120)
        if self.tally.failures:
            first = self.tally.failures[0]
            raise RuntimeError(f"a simulated user failed: {first!r}") from first
        return self.tally


def _kind_figures(done: Sequence[Interaction], kind: str) -> dict[str, Any]:
    mine = [i for i in done if i.kind == kind]
    ok = [i.seconds for i in mine if i.outcome is Outcome.OK]
    return {
        "interactions": len(mine),
        "p50_ms": ms(percentile(ok, 0.5)),
        "p95_ms": ms(percentile(ok, 0.95)),
    }


def figures(tally: Tally, window_s: float) -> dict[str, Any]:
    """Latency percentiles (of interactions answered without refusal) and counts."""
    done = tally.interactions
    ok = [i.seconds for i in done if i.outcome is Outcome.OK]
    requests = [a for i in done for a in i.requests]
    outcomes = Counter(a.outcome.value for a in requests)
    request_ok = [a.seconds for a in requests if a.outcome is Outcome.OK]
    failed = [a for a in requests if a.outcome is Outcome.ERROR]
    return {
        "p50_ms": ms(percentile(ok, 0.5)),
        "p95_ms": ms(percentile(ok, 0.95)),
        "p99_ms": ms(percentile(ok, 0.99)),
        "max_ms": ms(max(ok, default=None)),
        "interactions": len(done),
        "interactions_per_s": round(len(done) / window_s, 1),
        "requests": len(requests),
        "request_p95_ms": ms(percentile(request_ok, 0.95)),
        "ok": outcomes.get(Outcome.OK.value, 0),
        "errors": outcomes.get(Outcome.ERROR.value, 0),
        "throttled": outcomes.get(Outcome.THROTTLED.value, 0),
        "busy": outcomes.get(Outcome.BUSY.value, 0),
        "error_samples": [f"{a.status}: {a.body[:160]!r}" for a in failed[:3]],
        "by_kind": {kind: _kind_figures(done, kind) for kind in KINDS},
    }
