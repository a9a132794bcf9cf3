"""Prometheus metrics of the ingest path, shared by the web and worker processes.

Multiprocess-safe when ``PROMETHEUS_MULTIPROC_DIR`` is set in the environment before start-up
(the Procfile and Makefile do it); ``ingest.observability`` serves them at ``/metrics``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS_ACCEPTED = Counter(
    "northstar_ingest_records_accepted_total",
    "Records accepted by the ingest API (durable in a stream).",
    ["source"],
)
RECORDS_REJECTED = Counter(
    "northstar_ingest_records_rejected_total",
    "Records rejected at the edge, by rule.",
    ["source", "rule"],
)
RECORDS_QUARANTINED = Counter(
    "northstar_ingest_records_quarantined_total",
    "Records written to the quarantine table, by reason (rule).",
    ["source", "rule"],
)
RECORDS_STORED = Counter(
    "northstar_ingest_records_stored_total",
    "Records committed to PostgreSQL as new events.",
    ["source"],
)
REQUESTS = Counter(
    "northstar_ingest_requests_total",
    "Ingest API requests by endpoint and status code.",
    ["endpoint", "status"],
)
STREAM_BACKLOG = Gauge(
    "northstar_ingest_stream_backlog",
    "Stream entries not yet committed, by partition.",
    ["partition"],
    multiprocess_mode="max",
)
STREAM_PENDING = Gauge(
    "northstar_ingest_stream_pending",
    "Stream entries delivered to a worker and not yet acknowledged, by partition.",
    ["partition"],
    multiprocess_mode="max",
)
STREAM_OVERDUE = Gauge(
    "northstar_ingest_stream_overdue",
    "Pending stream entries delivered more often than the delivery limit (should be 0), by stream.",
    ["stream"],
    multiprocess_mode="max",
)
BATCH_WRITE_SECONDS = Histogram(
    "northstar_ingest_batch_write_seconds",
    "Time to write one drained batch (events and rollups) and commit.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENT_TO_COMMIT_SECONDS = Histogram(
    "northstar_ingest_event_to_commit_seconds",
    "From acceptance by the API to commit in PostgreSQL.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
