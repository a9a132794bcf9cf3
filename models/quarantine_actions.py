"""What a steward does to quarantined records besides replaying them: discard, with a reason.

Discarding needs ``quarantine:manage`` and the records' sources in the principal's scope. It
locks the records, marks the open ones ``discarded`` (who, when, the reason as the note),
and writes one ``audit_log`` row per source touched (``quarantine.discard``: the ids before and
after, the reason, how they were chosen). Committing is left to the caller: one transaction per
action, so a refused action changes nothing. Replay is ``ingest.replay.replay_source``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import Actor, record_change
from models.enums import QuarantineStatus
from models.permissions import Permission, Principal
from models.quarantine import QuarantinedRecord
from models.quarantine_store import mark_discarded
from models.queries.steward.quarantine_view import (
    NOT_FOUND,
    QuarantineFilter,
    QuarantineNotFound,
    QuarantineSource,
    filter_clauses,
    quarantine_sources,
    viewer_for,
)

MAX_DISCARD = 1000
"""The most records one discard may change (selected, or all matching a filter)."""
MAX_REASON = 1000


class TooManyRecords(ValueError):
    """More records match than one discard may change; the message says how many."""


@dataclass(frozen=True, slots=True)
class DiscardReport:
    discarded: int
    skipped: int
    """Chosen records that were no longer open (replayed or discarded meanwhile)."""
    by_source: dict[str, int] = field(default_factory=dict)


def _reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise ValueError("a reason is required to discard records")
    if len(cleaned) > MAX_REASON:
        raise ValueError(f"a reason may have at most {MAX_REASON} characters")
    return cleaned


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name or f"user {principal.user_id}", principal.user_id)


def discard_selected(
    session: Session,
    principal: Principal,
    record_ids: Sequence[int],
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> DiscardReport:
    """Discard the chosen records; those no longer open are skipped and counted.

    Raises:
        AccessDenied: missing ``quarantine:manage``; QuarantineNotFound: any id is not a
            record of a source in scope (then nothing changes); ValueError: no reason, no ids
            or more than :data:`MAX_DISCARD`.
    """
    principal.require(Permission.QUARANTINE_MANAGE)
    note = _reason(reason)
    wanted = sorted(set(record_ids))
    if not wanted:
        raise ValueError("select the records to discard")
    if len(wanted) > MAX_DISCARD:
        raise TooManyRecords(f"at most {MAX_DISCARD:,} records can be discarded at once")
    sources = quarantine_sources(session.connection(), principal)
    q = QuarantinedRecord
    rows = session.execute(
        select(q.id, q.source_id, q.status)
        .where(q.id.in_(wanted), q.source_id.in_([s.id for s in sources]))
        .order_by(q.id)
        .with_for_update()
    ).all()
    if len(rows) != len(wanted):
        raise QuarantineNotFound(NOT_FOUND)
    detail = {"chosen": "selected"}
    return _discard(session, principal, sources, rows, note, now, detail)


def discard_matching(
    session: Session,
    principal: Principal,
    chosen: QuarantineFilter,
    reason: str,
    *,
    now: dt.datetime | None = None,
    limit: int = MAX_DISCARD,
) -> DiscardReport:
    """Discard every open record in scope matching ``chosen`` (its statuses are ignored).

    Raises:
        AccessDenied: missing ``quarantine:manage`` or the chosen source is out of scope;
        TooManyRecords: more than ``limit`` match (nothing changes); ValueError: no reason.
    """
    principal.require(Permission.QUARANTINE_MANAGE)
    note = _reason(reason)
    connection = session.connection()
    sources = quarantine_sources(connection, principal)
    only_open = QuarantineFilter(
        chosen.source_id,
        chosen.match,
        chosen.received_from,
        chosen.received_to,
        (QuarantineStatus.OPEN,),
    )
    clauses = filter_clauses(viewer_for(connection, principal, sources), sources, only_open)
    q = QuarantinedRecord
    rows = session.execute(
        select(q.id, q.source_id, q.status)
        .where(*clauses)
        .order_by(q.id)
        .limit(limit + 1)
        .with_for_update()
    ).all()
    if len(rows) > limit:
        raise TooManyRecords(
            f"more than {limit:,} open records match; at most {limit:,} can be discarded at "
            "once: narrow the filters"
        )
    if not rows:
        raise ValueError("no open record matches the filters")
    detail = {"chosen": "filter", "filter": _described(only_open)}
    return _discard(session, principal, sources, rows, note, now, detail)


def _described(chosen: QuarantineFilter) -> dict[str, Any]:
    return {
        "source_id": chosen.source_id,
        "match": chosen.match,
        "received_from": chosen.received_from,
        "received_to": chosen.received_to,
    }


def _discard(
    session: Session,
    principal: Principal,
    sources: Sequence[QuarantineSource],
    rows: Sequence[Any],
    note: str,
    now: dt.datetime | None,
    detail: dict[str, Any],
) -> DiscardReport:
    at = now if now is not None else dt.datetime.now(dt.UTC)
    keys = {s.id: s.key for s in sources}
    open_by_source: dict[int, list[int]] = defaultdict(list)
    for record_id, source_id, status in rows:
        if status is QuarantineStatus.OPEN:
            open_by_source[source_id].append(record_id)
    ids = [i for found in open_by_source.values() for i in found]
    changed = mark_discarded(session.connection(), ids, principal.user_id, note, at)
    actor = _actor(principal)
    for source_id, found in sorted(open_by_source.items()):
        record_change(
            session,
            actor,
            "quarantine.discard",
            "source",
            keys[source_id],
            before={"status": QuarantineStatus.OPEN, "ids": found},
            after={
                "status": QuarantineStatus.DISCARDED,
                "ids": found,
                "acted_by": principal.user_id,
                "acted_at": at,
                "note": note,
            },
            detail={"count": len(found), "reason": note, **detail},
        )
    by_source = {keys[s]: len(found) for s, found in sorted(open_by_source.items())}
    return DiscardReport(changed, len(rows) - changed, by_source)
