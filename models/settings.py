"""Typed settings read from the environment: the only module that reads ``os.environ``."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from collections import Counter
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PRODUCTION = "production"


class StorageBackend(StrEnum):
    AUTO = "auto"
    NATIVE = "native"
    TIMESCALE = "timescale"


class ConfigurationError(RuntimeError):
    """Raised when the environment does not describe a deployable configuration."""


MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 128.0
_KNOWN_WEAK_SECRETS = frozenset(
    {"changeme", "secret", "password", "dev", "development", "test", "northstar"}
)

PositiveInt = Annotated[int, Field(gt=0)]


def _estimated_entropy_bits(secret: str) -> float:
    """Shannon entropy of the secret's characters times its length: a cheap weakness check."""
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_char * len(secret)


def secret_weakness(secret: str | None) -> str | None:
    """Return why ``secret`` is too weak for production, or None when it is acceptable."""
    if not secret:
        return "is not set"
    if secret.lower() in _KNOWN_WEAK_SECRETS:
        return "is a well-known placeholder"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if _estimated_entropy_bits(secret) < MIN_SECRET_BITS:
        return "has too little entropy (generate one with `python -m secrets`-grade randomness)"
    return None


def public_url_problem(url: str | None) -> str | None:
    """Why ``url`` cannot be the address one-time links are made on, or None when it can.

    Production needs it: without it a link would take its host from the request, which the
    client chooses (a forged Host header would send a reset link to the attacker's site)."""
    if not url:
        return "is not set (links to set a password must not take their host from a request)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) address such as https://northstar.example.com"
    if parts.query or parts.fragment:
        return "must not carry a query or fragment"
    return None


class Settings(BaseSettings):
    """Everything Northstar reads from its environment, validated once at start-up."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/northstar",
        validation_alias="DATABASE_URL",
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    secret_key: str | None = Field(default=None, validation_alias="NORTHSTAR_SECRET_KEY")
    env: Environment = Field(default=Environment.DEV, validation_alias="NORTHSTAR_ENV")
    storage: StorageBackend = Field(
        default=StorageBackend.AUTO, validation_alias="NORTHSTAR_STORAGE"
    )
    demo_mode: bool = Field(default=False, validation_alias="NORTHSTAR_DEMO")
    data_dir: str = Field(default=".data", validation_alias="NORTHSTAR_DATA_DIR")
    statement_timeout_ms: PositiveInt = Field(
        default=5000, validation_alias="NORTHSTAR_STATEMENT_TIMEOUT_MS"
    )
    query_row_limit: PositiveInt = Field(
        default=10000, validation_alias="NORTHSTAR_QUERY_ROW_LIMIT"
    )
    events_page_max: PositiveInt = Field(default=500, validation_alias="NORTHSTAR_EVENTS_PAGE_MAX")
    partitions_ahead_days: PositiveInt = Field(
        default=7, validation_alias="NORTHSTAR_PARTITIONS_AHEAD_DAYS"
    )
    rollup_1m_retention_days: PositiveInt = Field(
        default=35, validation_alias="NORTHSTAR_ROLLUP_1M_RETENTION_DAYS"
    )
    db_pool_size: PositiveInt = Field(default=5, validation_alias="NORTHSTAR_DB_POOL_SIZE")
    db_max_concurrent_queries: PositiveInt | None = Field(
        default=None, validation_alias="NORTHSTAR_DB_MAX_CONCURRENT_QUERIES"
    )
    """Page reads running at once across all web processes; unset: twice NORTHSTAR_DB_POOL_SIZE."""
    db_query_wait_s: float = Field(default=2.0, ge=0, validation_alias="NORTHSTAR_DB_QUERY_WAIT_S")
    """How long a page read waits for a free slot before the user is told the data is busy."""
    db_query_lease_s: float = Field(
        default=30.0, gt=0, validation_alias="NORTHSTAR_DB_QUERY_LEASE_S"
    )
    """A slot not given back within this long (a crashed process) is free again."""

    # Process logs (ingest/logs.py): what every process prints, and in which form.
    log_level: LogLevel = Field(default="INFO", validation_alias="NORTHSTAR_LOG_LEVEL")
    """Level of Northstar's own messages (start-up, faults, the workers' summaries, errors)."""
    job_log_level: LogLevel = Field(default="WARNING", validation_alias="NORTHSTAR_JOB_LOG_LEVEL")
    """Level of rq's per-job lines (INFO: a few lines per job; WARNING: failures only)."""
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias="NORTHSTAR_LOG_FORMAT"
    )
    """``json``: one JSON object per line (time, level, logger, process, message, exception)."""
    worker_summary_s: PositiveInt = Field(default=60, validation_alias="NORTHSTAR_WORKER_SUMMARY_S")
    """A worker logs one line of what it did (jobs, records, errors) at most this often."""

    # Ingest: the HTTP edge, the Redis Streams between it and the workers, and the drain jobs.
    ingest_max_bytes: PositiveInt = Field(
        default=10 * 1024 * 1024, validation_alias="NORTHSTAR_INGEST_MAX_BYTES"
    )
    ingest_partitions: PositiveInt = Field(
        default=8, validation_alias="NORTHSTAR_INGEST_PARTITIONS"
    )
    ingest_max_backlog: PositiveInt = Field(
        default=200, validation_alias="NORTHSTAR_INGEST_MAX_BACKLOG"
    )
    """Stream entries waiting (undelivered or pending) per partition before the API says 429."""
    ingest_read_count: PositiveInt = Field(
        default=20, validation_alias="NORTHSTAR_INGEST_READ_COUNT"
    )
    ingest_max_deliveries: PositiveInt = Field(
        default=5, validation_alias="NORTHSTAR_INGEST_MAX_DELIVERIES"
    )
    ingest_claim_idle_ms: PositiveInt = Field(
        default=30_000, validation_alias="NORTHSTAR_INGEST_CLAIM_IDLE_MS"
    )
    drain_budget_s: float = Field(default=10.0, gt=0, validation_alias="NORTHSTAR_DRAIN_BUDGET_S")
    ingest_max_records: PositiveInt = Field(
        default=10_000, validation_alias="NORTHSTAR_INGEST_MAX_RECORDS"
    )
    """Records one request may hold (valid and rejected alike); more is refused whole (413)."""
    ingest_max_rejected_per_hour: PositiveInt = Field(
        default=100_000, validation_alias="NORTHSTAR_INGEST_MAX_REJECTED_PER_HOUR"
    )
    """Rejected (quarantined) records one API key may add per clock hour; then 429."""
    ingest_min_event_date: dt.date = Field(
        default=dt.date(2000, 1, 1),
        ge=dt.date(1900, 1, 1),
        validation_alias="NORTHSTAR_INGEST_MIN_EVENT_DATE",
    )
    """The earliest event time accepted (UTC midnight of this date); older records are rejected."""
    ingest_max_future_s: PositiveInt = Field(
        default=86_400, le=3_660 * 86_400, validation_alias="NORTHSTAR_INGEST_MAX_FUTURE_S"
    )
    """How far past the current time an event time may lie; later records are rejected."""
    drift_window_s: PositiveInt = Field(default=900, validation_alias="NORTHSTAR_DRIFT_WINDOW_S")
    drift_threshold: float = Field(
        default=0.01, gt=0, lt=1, validation_alias="NORTHSTAR_DRIFT_THRESHOLD"
    )
    prometheus_multiproc_dir: str | None = Field(
        default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR"
    )
    simulator_url: str = Field(
        default="http://127.0.0.1:8050", validation_alias="NORTHSTAR_SIMULATOR_URL"
    )
    simulator_rate: float = Field(default=200.0, gt=0, validation_alias="NORTHSTAR_SIMULATOR_RATE")

    # Dashboard sign-in and sessions (dashboard/auth, docs/security.md).
    session_idle_timeout_s: PositiveInt = Field(
        default=30 * 60, validation_alias="NORTHSTAR_SESSION_IDLE_TIMEOUT_S"
    )
    """A session unused for this long ends; the next request goes to the sign-in page."""
    session_absolute_timeout_s: PositiveInt = Field(
        default=12 * 3600, validation_alias="NORTHSTAR_SESSION_ABSOLUTE_TIMEOUT_S"
    )
    """A session ends this long after sign-in, however active it is."""
    login_max_failures: PositiveInt = Field(
        default=5, validation_alias="NORTHSTAR_LOGIN_MAX_FAILURES"
    )
    """Failed sign-ins per account, and per client address, before sign-in answers 429."""
    login_failure_window_s: PositiveInt = Field(
        default=15 * 60, validation_alias="NORTHSTAR_LOGIN_FAILURE_WINDOW_S"
    )
    rate_limit: str = Field(default="60/30 seconds", validation_alias="NORTHSTAR_RATE_LIMIT")
    """Requests per signed-in user, in Flask-Limiter syntax (docs/security.md)."""
    rate_limit_enabled: bool = Field(default=True, validation_alias="NORTHSTAR_RATE_LIMIT_ENABLED")
    """False turns per-user throttling off (tests that post many callbacks as one user)."""
    trusted_proxies: int = Field(default=0, ge=0, validation_alias="NORTHSTAR_TRUSTED_PROXIES")
    """Reverse proxies in front of the web process whose X-Forwarded-For/-Proto are believed."""
    web_max_body_bytes: PositiveInt = Field(
        default=1024 * 1024, validation_alias="NORTHSTAR_WEB_MAX_BODY_BYTES"
    )
    """Largest request body of every route but the ingest API (pages, sign-in, ``/invite/``,
    Dash callbacks): 413 above it, before anything is parsed (docs/security.md)."""
    metrics_token: str | None = Field(default=None, validation_alias="NORTHSTAR_METRICS_TOKEN")
    """Bearer token for ``/metrics`` from other hosts; loopback scrapes need none."""

    # Admin console: one-time account links and access reviews (docs/admin.md).
    invite_link_ttl_s: PositiveInt = Field(
        default=72 * 3600, validation_alias="NORTHSTAR_INVITE_LINK_TTL_S"
    )
    """How long a new user's invitation link may be used to choose a password."""
    reset_link_ttl_s: PositiveInt = Field(
        default=24 * 3600, validation_alias="NORTHSTAR_RESET_LINK_TTL_S"
    )
    """How long a password-reset link made by an admin may be used."""
    access_review_unused_days: PositiveInt = Field(
        default=90, validation_alias="NORTHSTAR_ACCESS_REVIEW_UNUSED_DAYS"
    )
    """A grant not used for this many days is flagged in the access review."""
    access_review_due_days: PositiveInt = Field(
        default=14, validation_alias="NORTHSTAR_ACCESS_REVIEW_DUE_DAYS"
    )
    """The due date a new campaign's form offers: this many days after today."""

    # Dashboard answer cache and live refresh (dashboard/cache/, docs/dashboard.md).
    cache_ttl_s: int = Field(default=300, ge=0, validation_alias="NORTHSTAR_CACHE_TTL_S")
    """How long a cached query answer is kept in Redis; 0 turns the answer cache off."""
    cache_redis_url: str | None = Field(default=None, validation_alias="NORTHSTAR_CACHE_REDIS_URL")
    """Redis for cached answers (e.g. one with an LRU eviction policy); default REDIS_URL."""
    cache_timeout_ms: PositiveInt = Field(
        default=250, validation_alias="NORTHSTAR_CACHE_TIMEOUT_MS"
    )
    """Socket timeout of the cache's Redis calls: past it the answer is computed instead."""
    live_poll_ms: int = Field(default=5000, ge=0, validation_alias="NORTHSTAR_LIVE_POLL_MS")
    """How often open pages check the data versions for new data; 0 turns live refresh off."""

    # Target plans (models/targets.py, docs/targets.md).
    fiscal_year_start_month: int = Field(
        default=1, ge=1, le=12, validation_alias="NORTHSTAR_FISCAL_YEAR_START_MONTH"
    )
    """The month (1-12) fiscal years start in: target plans' quarters and years follow it."""

    # Data-quality checks, incidents and escalation (ingest/quality, docs/quality.md).
    dq_settle_s: int = Field(default=120, ge=0, validation_alias="NORTHSTAR_DQ_SETTLE_S")
    """How long after a 15-minute window closes it is judged (late events still arrive)."""
    dq_history_weeks: int = Field(
        default=4, ge=1, le=5, validation_alias="NORTHSTAR_DQ_HISTORY_WEEKS"
    )
    """Previous weeks whose same window gives the expected volume and the anomaly baseline."""
    dq_min_history_weeks: int = Field(
        default=3, ge=1, validation_alias="NORTHSTAR_DQ_MIN_HISTORY_WEEKS"
    )
    """Weeks with data needed before a volume is learned (fewer: the check is skipped)."""
    dq_completeness_max_drop: float = Field(
        default=0.05, gt=0, lt=1, validation_alias="NORTHSTAR_DQ_COMPLETENESS_MAX_DROP"
    )
    dq_completeness_noise_z: float = Field(
        default=3.0, ge=0, validation_alias="NORTHSTAR_DQ_COMPLETENESS_NOISE_Z"
    )
    """Against a learned volume a drop must also exceed this many robust standard deviations
    (MAD) of the previous weeks: ordinary variation of a varying source is no incident."""
    dq_anomaly_warning_z: float = Field(
        default=3.5, gt=0, validation_alias="NORTHSTAR_DQ_ANOMALY_WARNING_Z"
    )
    dq_anomaly_failing_z: float = Field(
        default=5.0, gt=0, validation_alias="NORTHSTAR_DQ_ANOMALY_FAILING_Z"
    )
    dq_validity_warning_share: float = Field(
        default=0.02, gt=0, le=1, validation_alias="NORTHSTAR_DQ_VALIDITY_WARNING_SHARE"
    )
    dq_validity_failing_share: float = Field(
        default=0.10, gt=0, le=1, validation_alias="NORTHSTAR_DQ_VALIDITY_FAILING_SHARE"
    )
    dq_integrity_failing_share: float = Field(
        default=0.01, gt=0, le=1, validation_alias="NORTHSTAR_DQ_INTEGRITY_FAILING_SHARE"
    )
    dq_reconcile_lookback_s: PositiveInt = Field(
        default=86_400, validation_alias="NORTHSTAR_DQ_RECONCILE_LOOKBACK_S"
    )
    """How far back reconciliation starts, and the most it ever falls behind."""
    dq_escalation_critical_s: PositiveInt = Field(
        default=15 * 60, validation_alias="NORTHSTAR_DQ_ESCALATION_CRITICAL_S"
    )
    """An unacknowledged critical incident goes up one level after this long."""
    dq_escalation_warning_s: PositiveInt = Field(
        default=60 * 60, validation_alias="NORTHSTAR_DQ_ESCALATION_WARNING_S"
    )
    dq_auto_resolve: bool = Field(default=False, validation_alias="NORTHSTAR_DQ_AUTO_RESOLVE")
    """True: an incident whose check passes again is resolved without a steward's confirmation."""
    dq_results_retention_days: PositiveInt = Field(
        default=90, validation_alias="NORTHSTAR_DQ_RESULTS_RETENTION_DAYS"
    )

    # Threshold alerts and reviews (ingest/alerts, docs/alerts.md).
    alert_every_s: PositiveInt = Field(default=30, validation_alias="NORTHSTAR_ALERT_EVERY_S")
    """How often the cron scheduler enqueues the evaluation of every active alert rule."""
    review_min_severity: Literal["info", "warning", "critical"] = Field(
        default="warning", validation_alias="NORTHSTAR_REVIEW_MIN_SEVERITY"
    )
    """A firing alert of at least this severity opens a review (repeats update it)."""
    review_due_days: PositiveInt = Field(default=7, validation_alias="NORTHSTAR_REVIEW_DUE_DAYS")
    """A new review is due this many days after it opened."""

    # Admin console (docs/admin-sources.md).
    admin_preview_records: PositiveInt = Field(
        default=1000, le=20_000, validation_alias="NORTHSTAR_ADMIN_PREVIEW_RECORDS"
    )
    """Newest stored events, and newest quarantined records, a contract preview re-checks."""
    log_export_max_rows: PositiveInt = Field(
        default=50_000, le=1_000_000, validation_alias="NORTHSTAR_LOG_EXPORT_MAX_ROWS"
    )
    """The most rows one CSV export of the access or audit log may hold."""

    # Notifications: webhooks and e-mail (ingest/notify, docs/notifications.md).
    public_url: str | None = Field(default=None, validation_alias="NORTHSTAR_PUBLIC_URL")
    """The dashboard's address as users reach it (``https://northstar.example.com``): links in
    e-mails and webhooks are made absolute with it (unset, they are sent as paths), and so are
    one-time links to set a password. Required in production (``public_url_problem``)."""
    webhook_allowed_hosts: str = Field(
        default="", validation_alias="NORTHSTAR_WEBHOOK_ALLOWED_HOSTS"
    )
    """Comma-separated hosts webhooks may be sent to: ``hooks.slack.com``, ``*.example.com``
    (its subdomains), ``*`` (any host); empty: every webhook is refused."""
    webhook_allowed_networks: str = Field(
        default="", validation_alias="NORTHSTAR_WEBHOOK_ALLOWED_NETWORKS"
    )
    """Comma-separated CIDRs (``10.20.0.0/16``) that webhooks may reach although they are
    private, loopback or otherwise non-public; plain http is accepted only to these."""
    notify_timeout_s: float = Field(
        default=10.0, gt=0, le=120, validation_alias="NORTHSTAR_NOTIFY_TIMEOUT_S"
    )
    """Bound of each network step of a delivery: name lookup, connect, each read."""
    notify_max_attempts: PositiveInt = Field(
        default=8, validation_alias="NORTHSTAR_NOTIFY_MAX_ATTEMPTS"
    )
    notify_backoff_s: float = Field(
        default=30.0, gt=0, validation_alias="NORTHSTAR_NOTIFY_BACKOFF_S"
    )
    """Wait after the first failed attempt; it doubles after each further one."""
    notify_backoff_max_s: float = Field(
        default=3600.0, gt=0, validation_alias="NORTHSTAR_NOTIFY_BACKOFF_MAX_S"
    )
    smtp_host: str | None = Field(default=None, validation_alias="NORTHSTAR_SMTP_HOST")
    """The SMTP server e-mail notifications go through; unset: e-mails are refused."""
    smtp_port: int = Field(default=587, gt=0, lt=65536, validation_alias="NORTHSTAR_SMTP_PORT")
    smtp_username: str | None = Field(default=None, validation_alias="NORTHSTAR_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(
        default=None, validation_alias="NORTHSTAR_SMTP_PASSWORD"
    )
    smtp_from: str = Field(
        default="Northstar <northstar@localhost>", validation_alias="NORTHSTAR_SMTP_FROM"
    )
    smtp_starttls: bool = Field(default=True, validation_alias="NORTHSTAR_SMTP_STARTTLS")

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{item!r} is not a network such as 10.0.0.0/8") from exc
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        try:
            items = parse_many(value)
        except ValueError:
            items = []
        if not items or any(item.amount < 1 for item in items):
            raise ValueError(f"{value!r} is not a rate limit such as '60/30 seconds'")
        return value

    @model_validator(mode="after")
    def _production_needs_a_strong_secret(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            problem = secret_weakness(self.secret_key)
            if problem:
                raise ValueError(f"NORTHSTAR_SECRET_KEY {problem}; refusing to start in production")
            if self.demo_mode:
                raise ValueError("NORTHSTAR_DEMO must not be set in production")
            problem = public_url_problem(self.public_url)
            if problem:
                raise ValueError(f"NORTHSTAR_PUBLIC_URL {problem}; refusing to start in production")
        return self

    @property
    def db_query_cap(self) -> int:
        """How many page reads may run at once across all web processes."""
        return self.db_max_concurrent_queries or 2 * self.db_pool_size

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the psycopg 3 driver, whatever scheme the platform gave."""
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def libpq_url(self) -> str:
        """The database URL as libpq (and psycopg.connect) understands it."""
        return self.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def load_settings() -> Settings:
    """Read the environment; raise ConfigurationError naming the variable on bad input."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            problems.append(f"{where}: {error['msg']}")
        raise ConfigurationError("; ".join(problems)) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import)."""
    return load_settings()
