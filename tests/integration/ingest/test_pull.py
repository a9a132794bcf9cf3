"""Pulled sources through real HTTP, a real SQL database, Redis streams and a burst RQ worker."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from rq import Queue
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest import jobs
from ingest.demo.seed import seed_demo
from ingest.pull import enqueue_due, pull_with
from ingest.runtime import Services
from ingest.schedule import SCHEDULE, build_scheduler
from ingest.worker import run_worker
from models.enums import PullKind, RefreshMode
from models.settings import Settings
from models.sources import Source

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _ticket(n: int, at: dt.datetime, **changes: Any) -> dict[str, Any]:
    record = {
        "ticket_id": f"tkt-pull-{n}",
        "ts": at.isoformat().replace("+00:00", "Z"),
        "org_unit": "de-retail",
        "resolution_minutes": 30.0 + n,
        "reopened": 0,
        "priority": "normal",
        "channel": "email",
    }
    return record | changes


@dataclass
class Endpoint:
    """A producer's JSON endpoint: answers the records newer than ``since``."""

    records: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    seen_since: list[str | None] = field(default_factory=list)

    def answer(self, query: str) -> tuple[int, bytes]:
        since = urllib.parse.parse_qs(query).get("since", [None])[0]
        self.seen_since.append(since)
        if self.status != 200:
            return self.status, b"{}"
        newer = [
            r
            for r in self.records
            if since is None
            or dt.datetime.fromisoformat(r["ts"]) > dt.datetime.fromisoformat(since)
        ]
        return 200, json.dumps({"records": newer}).encode()


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, str]]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = state.answer(urllib.parse.urlsplit(self.path).query)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}/tickets"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def services(db: Engine, redis_client: redis.Redis, settings: Settings) -> Services:
    seed_demo(db, settings)
    return jobs.init_services(settings)


def _configure(engine: Engine, key: str, **values: Any) -> int:
    with Session(engine) as session, session.begin():
        source = session.query(Source).filter_by(key=key).one()
        for name, value in values.items():
            setattr(source, name, value)
        return source.id


def _source(engine: Engine, source_id: int) -> Source:
    with Session(engine, expire_on_commit=False) as session:
        return session.get_one(Source, source_id)


def _stored(engine: Engine, source_id: int) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event_id FROM events WHERE source_id = :s ORDER BY event_id"),
            {"s": source_id},
        )
        return [r[0] for r in rows]


def _quarantined(engine: Engine, source_id: int) -> list[tuple[str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT rule, field FROM quarantine WHERE source_id = :s ORDER BY id"),
            {"s": source_id},
        )
        return [(r[0], r[1]) for r in rows]


def _work(settings: Settings) -> None:
    run_worker(settings, burst=True, logging_level="WARNING")


def test_an_http_pull_stores_new_records_once_and_moves_the_watermark(
    services: Services, settings: Settings, endpoint: tuple[Endpoint, str]
) -> None:
    state, url = endpoint
    state.records = [_ticket(n, T0 + dt.timedelta(minutes=n)) for n in range(3)]
    state.records.append(_ticket(3, T0 + dt.timedelta(minutes=3), priority="whenever"))
    source_id = _configure(
        services.engine, "support_tickets", pull_kind=PullKind.HTTP, pull_target=url
    )

    first = pull_with(services, source_id, now=T0 + dt.timedelta(hours=1))
    _work(settings)

    assert (first.status, first.fetched, first.accepted, first.rejected) == ("pulled", 4, 3, 1)
    assert _stored(services.engine, source_id) == ["tkt-pull-0", "tkt-pull-1", "tkt-pull-2"]
    assert _quarantined(services.engine, source_id) == [("enum", "priority")]
    watermark = "2026-03-02T09:03:00.000000Z"
    assert _source(services.engine, source_id).pull_watermark == watermark

    state.records.append(_ticket(4, T0 + dt.timedelta(minutes=4)))
    second = pull_with(services, source_id, now=T0 + dt.timedelta(hours=2))
    _work(settings)

    assert state.seen_since == [None, watermark]
    assert (second.fetched, second.accepted) == (1, 1)
    assert len(_stored(services.engine, source_id)) == 4
    assert len(_quarantined(services.engine, source_id)) == 1


def test_a_failed_pull_keeps_the_watermark_and_is_retried_next_time(
    services: Services, settings: Settings, endpoint: tuple[Endpoint, str]
) -> None:
    state, url = endpoint
    state.records = [_ticket(n, T0 + dt.timedelta(minutes=n)) for n in range(2)]
    source_id = _configure(
        services.engine,
        "support_tickets",
        pull_kind=PullKind.HTTP,
        pull_target=url,
        pull_watermark="2026-03-02T08:00:00.000000Z",
    )
    state.status = 500

    failed = pull_with(services, source_id, now=T0)

    assert failed.status == "failed"
    assert "HTTP 500" in failed.detail
    source = _source(services.engine, source_id)
    assert (source.pull_watermark, source.last_pulled_at) == ("2026-03-02T08:00:00.000000Z", None)

    state.status = 200
    retried = pull_with(services, source_id, now=T0 + dt.timedelta(minutes=5))
    _work(settings)
    assert retried.accepted == 2
    assert _stored(services.engine, source_id) == ["tkt-pull-0", "tkt-pull-1"]


def test_a_pull_refuses_a_target_that_is_not_http(services: Services) -> None:
    source_id = _configure(
        services.engine,
        "support_tickets",
        pull_kind=PullKind.HTTP,
        pull_target="file:///etc/passwd",
    )
    result = pull_with(services, source_id, now=T0)
    assert result.status == "failed"
    assert "http:// or https://" in result.detail


@pytest.fixture
def ticket_table(services: Services) -> Iterator[str]:
    """A producer's table, in a scratch schema of the test database."""
    with services.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS pull_producer CASCADE"))
        connection.execute(text("CREATE SCHEMA pull_producer"))
        connection.execute(
            text(
                "CREATE TABLE pull_producer.tickets (ticket_id text, resolved_at timestamptz,"
                " unit text, minutes numeric, reopened int)"
            )
        )
    yield "pull_producer.tickets"
    with services.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA pull_producer CASCADE"))


def test_an_sql_pull_reads_rows_newer_than_the_watermark(
    services: Services, settings: Settings, ticket_table: str
) -> None:
    with services.engine.begin() as connection:
        for n in range(3):
            connection.execute(
                text(f"INSERT INTO {ticket_table} VALUES (:id, :at, 'fr-online', 12.5, 0)"),
                {"id": f"sql-{n}", "at": T0 + dt.timedelta(minutes=n)},
            )
    query = (
        "SELECT ticket_id, resolved_at AS ts, unit AS org_unit, minutes AS resolution_minutes,"
        " reopened, 'high' AS priority, 'chat' AS channel"
        f" FROM {ticket_table} WHERE resolved_at > :watermark ORDER BY resolved_at"
    )
    source_id = _configure(
        services.engine,
        "support_tickets",
        refresh_mode=RefreshMode.SCHEDULED,
        pull_kind=PullKind.SQL,
        pull_target=settings.sqlalchemy_url,
        pull_query=query,
    )

    first = pull_with(services, source_id, now=T0 + dt.timedelta(hours=1))
    again = pull_with(services, source_id, now=T0 + dt.timedelta(hours=2))
    _work(settings)

    assert (first.accepted, first.rejected, again.fetched) == (3, 0, 0)
    assert _stored(services.engine, source_id) == ["sql-0", "sql-1", "sql-2"]
    assert _source(services.engine, source_id).pull_watermark == "2026-03-02T09:02:00.000000Z"


def test_only_sources_whose_interval_elapsed_are_pulled_and_each_only_once(
    services: Services, settings: Settings, endpoint: tuple[Endpoint, str]
) -> None:
    state, url = endpoint
    state.records = [_ticket(0, T0)]
    tickets = _configure(
        services.engine, "support_tickets", pull_kind=PullKind.HTTP, pull_target=url
    )
    spend = _configure(
        services.engine,
        "marketing_spend",
        pull_kind=PullKind.HTTP,
        pull_target=url,
        last_pulled_at=T0 - dt.timedelta(minutes=30),  # scheduled: hourly, so not yet due
    )
    queue = Queue(jobs.QUEUE, connection=services.redis, serializer=JSONSerializer)

    assert enqueue_due(services, queue, now=T0) == [tickets]
    assert enqueue_due(services, queue, now=T0) == []  # already queued
    assert enqueue_due(services, queue, now=T0 + dt.timedelta(minutes=31)) == [spend]
    _work(settings)

    assert _stored(services.engine, tickets) == ["tkt-pull-0"]
    assert _source(services.engine, tickets).last_pulled_at is not None


def test_the_cron_schedule_enqueues_jobs_a_worker_runs(
    services: Services, settings: Settings
) -> None:
    scheduler = build_scheduler(services.redis, jobs.QUEUE)

    enqueued = scheduler.enqueue_jobs()
    _work(settings)

    # Every periodic job is due at the scheduler's first run, and each one runs cleanly.
    assert sorted(j.name for j in enqueued) == sorted(p.name for p in SCHEDULE)
    failed = FailedJobRegistry(jobs.QUEUE, connection=services.redis, serializer=JSONSerializer)
    assert failed.get_job_ids() == []


def test_a_source_whose_partner_agreement_expired_is_not_pulled(
    services: Services, settings: Settings, endpoint: tuple[Endpoint, str], caplog: Any
) -> None:
    state, url = endpoint
    state.records = [_ticket(0, T0)]
    source_id = _configure(
        services.engine,
        "support_tickets",
        pull_kind=PullKind.HTTP,
        pull_target=url,
        partner_agreement_ref="HELPDESK-DPA-9",
        partner_agreement_expires_at=T0 - dt.timedelta(days=1),
    )
    queue = Queue(jobs.QUEUE, connection=services.redis, serializer=JSONSerializer)

    assert enqueue_due(services, queue, now=T0) == []
    result = pull_with(services, source_id, now=T0)  # a pull queued before it expired
    _work(settings)

    assert result.status == "skipped"
    assert "HELPDESK-DPA-9 of source 'support_tickets' expired at" in result.detail
    assert "2026-03-01 09:00 UTC" in result.detail
    assert "HELPDESK-DPA-9" in caplog.text
    assert state.seen_since == []  # the partner was not even asked
    assert _stored(services.engine, source_id) == []
    assert _source(services.engine, source_id).last_pulled_at is None


def test_a_renewed_partner_agreement_lets_the_source_be_pulled_again(
    services: Services, settings: Settings, endpoint: tuple[Endpoint, str]
) -> None:
    state, url = endpoint
    state.records = [_ticket(0, T0)]
    source_id = _configure(
        services.engine,
        "support_tickets",
        pull_kind=PullKind.HTTP,
        pull_target=url,
        partner_agreement_ref="HELPDESK-DPA-10",
        partner_agreement_expires_at=T0 + dt.timedelta(days=365),
    )
    queue = Queue(jobs.QUEUE, connection=services.redis, serializer=JSONSerializer)

    assert enqueue_due(services, queue, now=T0) == [source_id]
    _work(settings)

    assert _stored(services.engine, source_id) == ["tkt-pull-0"]
