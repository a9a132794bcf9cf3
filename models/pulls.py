"""Pulled sources: which are due, how each is pulled, and advancing their watermark."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, case, func, or_, select, update
from sqlalchemy.orm import Session

from models.contracts import Contract
from models.enums import PullKind, RefreshMode
from models.sources import Source, SourceContract

DEFAULT_PULL_INTERVAL_S = {RefreshMode.MICROBATCH: 60, RefreshMode.SCHEDULED: 3600}
"""How often a pulled source is fetched when it sets no ``pull_interval_s``, by refresh mode."""
PULLED_MODES = tuple(DEFAULT_PULL_INTERVAL_S)


@dataclass(frozen=True, slots=True)
class PullPlan:
    """Everything a pull job needs about one source, read in one short transaction."""

    source_id: int
    source_key: str
    kind: PullKind
    target: str
    query: str | None
    watermark: str | None
    contract: Contract | None
    agreement_ref: str | None = None
    agreement_expires_at: dt.datetime | None = None

    def agreement_expired(self, now: dt.datetime) -> bool:
        """Whether the partner agreement has run out at ``now`` (no pulls after it)."""
        return self.agreement_expires_at is not None and self.agreement_expires_at <= now

    def agreement_refusal(self) -> str:
        """Why the source is not pulled: its agreement, named, and when it expired."""
        ref = self.agreement_ref or "the partner agreement"
        expired = self.agreement_expires_at
        when = "" if expired is None else f" at {expired:%Y-%m-%d %H:%M} UTC"
        return (
            f"{ref} of source {self.source_key!r} expired{when}; "
            "it is not pulled until the agreement is renewed"
        )


def _interval_s() -> ColumnElement[int]:
    """The effective interval of a source, in SQL: its own, else its refresh mode's default."""
    default = case(
        *((Source.refresh_mode == mode, s) for mode, s in DEFAULT_PULL_INTERVAL_S.items()),
        else_=DEFAULT_PULL_INTERVAL_S[RefreshMode.SCHEDULED],
    )
    return func.coalesce(Source.pull_interval_s, default)


def due_source_ids(session: Session, now: dt.datetime) -> list[int]:
    """Active pulled sources never pulled, or whose interval has elapsed since the last pull;
    a source whose partner agreement has expired is never due."""
    interval = func.make_interval(0, 0, 0, 0, 0, 0, func.cast(_interval_s(), Integer))
    rows = session.scalars(
        select(Source.id)
        .where(
            Source.active.is_(True),
            Source.refresh_mode.in_(PULLED_MODES),
            Source.pull_kind.is_not(None),
            Source.pull_target.is_not(None),
            or_(
                Source.partner_agreement_expires_at.is_(None),
                Source.partner_agreement_expires_at > now,
            ),
            or_(Source.last_pulled_at.is_(None), Source.last_pulled_at + interval <= now),
        )
        .order_by(Source.last_pulled_at.asc().nulls_first(), Source.id)
    )
    return list(rows)


def pull_plan(session: Session, source_id: int) -> PullPlan | None:
    """How to pull ``source_id`` now, or None when it is not an active, pulled source."""
    source = session.get(Source, source_id)
    if (
        source is None
        or not source.active
        or source.refresh_mode not in PULLED_MODES
        or source.pull_kind is None
        or not source.pull_target
    ):
        return None
    row = session.scalar(
        select(SourceContract)
        .where(SourceContract.source_id == source_id)
        .order_by(SourceContract.version.desc())
        .limit(1)
    )
    contract = None if row is None else Contract.from_row(row.version, row.fields)
    return PullPlan(
        source_id=source.id,
        source_key=source.key,
        kind=source.pull_kind,
        target=source.pull_target,
        query=source.pull_query,
        watermark=source.pull_watermark,
        contract=contract,
        agreement_ref=source.partner_agreement_ref,
        agreement_expires_at=source.partner_agreement_expires_at,
    )


def record_pull(
    session: Session, source_id: int, *, watermark: str | None, pulled_at: dt.datetime
) -> None:
    """Note a successful pull; the watermark only moves forward (ISO 8601 UTC strings sort)."""
    session.execute(update(Source).where(Source.id == source_id).values(last_pulled_at=pulled_at))
    if watermark is not None:
        session.execute(
            update(Source)
            .where(
                Source.id == source_id,
                or_(Source.pull_watermark.is_(None), Source.pull_watermark < watermark),
            )
            .values(pull_watermark=watermark)
        )
