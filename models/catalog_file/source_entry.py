"""The shape of a ``sources`` entry: ownership, refresh and pull, SLAs, agreement, contract."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.contracts import Contract, FieldSpec
from models.enums import Classification, PullKind, RefreshMode
from models.source_admin import KEY_PATTERN, MAX_RETENTION_DAYS, MAX_SLA_S, MAX_VOLUME

MASK = "***"
"""Stands for a password in an exported pull target; applying it keeps the stored one."""


def masked(target: str | None) -> str | None:
    """``target`` with the password of its URL, if any, replaced by :data:`MASK`."""
    if not target:
        return target
    parts = urlsplit(target)
    if parts.password is None:
        return target
    host = parts.netloc.rsplit("@", 1)[1]
    netloc = f"{parts.username or ''}:{MASK}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


class PullEntry(BaseModel):
    """How Northstar fetches a pulled source (``mode`` microbatch or scheduled)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PullKind
    target: str = Field(min_length=1, max_length=2000)
    query: str | None = None
    interval_s: int | None = Field(default=None, gt=0, le=MAX_SLA_S)

    @model_validator(mode="after")
    def _kind_needs(self) -> PullEntry:
        scheme = urlsplit(self.target).scheme
        if self.kind is PullKind.HTTP and scheme not in ("http", "https"):
            raise ValueError("an http pull's target must be an http:// or https:// URL")
        if self.kind is PullKind.SQL and not self.query:
            raise ValueError("an sql pull needs a query")
        return self


class AgreementEntry(BaseModel):
    """The data agreement with the partner who delivers a source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: str = Field(min_length=1, max_length=200)
    expires: dt.datetime | None = None

    @field_validator("expires", mode="before")
    @classmethod
    def _date_or_time(cls, value: Any) -> Any:
        # A date alone means the end of that day, in UTC.
        if not isinstance(value, str):
            return value
        try:
            if len(value) == 10:
                day = dt.date.fromisoformat(value)
                return dt.datetime.combine(day, dt.time(23, 59, 59), dt.UTC)
            return dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(
                f"invalid date {value!r} ({exc}): write 2028-12-31 or 2028-12-31T18:00:00Z"
            ) from None

    @field_validator("expires")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return None if value is None else value.astimezone(dt.UTC)


class ContractEntry(BaseModel):
    """The source's contract; ``version`` (optional) is the version these fields are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int | None = Field(default=None, ge=1)
    fields: tuple[FieldSpec, ...] = Field(min_length=1, max_length=300)

    @model_validator(mode="after")
    def _a_contract(self) -> ContractEntry:
        try:
            Contract(version=self.version or 1, fields=self.fields)
        except ValidationError as exc:
            raise ValueError("; ".join(str(e["msg"]) for e in exc.errors())) from None
        return self

    def field_dumps(self) -> list[dict[str, Any]]:
        return [f.model_dump(mode="json", exclude_defaults=True) for f in self.fields]


class SourceEntry(BaseModel):
    """One source: who owns it, how it arrives, how fresh and how long kept, its contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN.pattern)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    owner: str = Field(min_length=1)
    steward: str | None = None
    mode: RefreshMode
    pull: PullEntry | None = None
    freshness_sla_s: int = Field(gt=0, le=MAX_SLA_S)
    expected_volume_per_15m: int | None = Field(default=None, gt=0, le=MAX_VOLUME)
    retention_days: int = Field(default=90, gt=0, le=MAX_RETENTION_DAYS)
    sensitivity: Classification = Classification.INTERNAL
    active: bool = True
    partner_agreement: AgreementEntry | None = None
    contract: ContractEntry | None = None
