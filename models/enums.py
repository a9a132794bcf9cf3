"""Enumerations stored by value in the database."""

from __future__ import annotations

from enum import StrEnum


class OrgLevel(StrEnum):
    COMPANY = "company"
    REGION = "region"
    COUNTRY = "country"
    BUSINESS_UNIT = "business_unit"


class RefreshMode(StrEnum):
    STREAMING = "streaming"
    MICROBATCH = "microbatch"
    SCHEDULED = "scheduled"


class PullKind(StrEnum):
    HTTP = "http"
    SQL = "sql"


class DriftKind(StrEnum):
    UNKNOWN_FIELD = "unknown_field"
    TYPE_MISMATCH = "type_mismatch"


class Classification(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    PII = "pii"


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Granularity(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


class QuarantineStatus(StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    ERROR = "error"
    THROTTLED = "throttled"


class TargetGrain(StrEnum):
    """The period a target plan's value covers (``docs/targets.md``)."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class TargetAllocation(StrEnum):
    """How a plan's value passes to the child units that have no plan of their own."""

    EXPLICIT = "explicit"
    EQUAL = "equal"
    SHARE = "share"
