"""Reads of the quarantine browser: the sources a steward may act on, their quarantined records
filtered and paged, and one record, every payload masked as events are.

**Scope.** A quarantined record belongs to its source: a principal sees the records of the
sources whose owner unit lies in one of their subtrees (as for incidents and data health).
Records without a source (none are written today) are never shown. Everything here needs
``quarantine:manage``.

**Masking.** Payload fields are classified by the source's *current* contract and shown through
:func:`models.queries.masking.visible_attrs`, the events rule: ``pii`` masked without
``pii:view``, ``confidential`` dropped without ``event:view``, a field the contract does not
describe treated as ``pii``. A payload that is not an object, and raw text that never parsed,
have no fields to classify: they count as ``pii``. A reason about a field the principal may not
see in full is withheld, and the text part of a match ignores those reasons, so it cannot be
used to probe them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, or_, select, text, tuple_

from models.contracts import Contract
from models.enums import QuarantineStatus
from models.permissions import AccessDenied, Permission, Principal
from models.quarantine import QuarantinedRecord
from models.quarantine_store import match_clause
from models.queries.common import IN_SCOPE, QueryTooLarge, scope_params
from models.queries.masking import visible_attrs
from models.users import User

NOT_FOUND = "no such quarantined record in your scope"
NO_SOURCE = "no such source in your scope"
MAX_SOURCES = 500
MAX_MATCH = 200
"""The longest rule-or-reason text accepted."""
_PROBE = object()


class QuarantineNotFound(AccessDenied):
    """No record with this id in the principal's scope (or none at all: indistinguishable)."""


@dataclass(frozen=True, slots=True)
class QuarantineSource:
    """A source in scope and how many of its records are still open."""

    id: int
    key: str
    name: str
    active: bool
    open_records: int


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """What the browser lists (and "discard all matching" discards).

    ``match`` selects records whose rule is it or whose reason contains it, as replay's
    ``--reason``; ``received_to`` is exclusive; no statuses means every status.
    """

    source_id: int | None = None
    match: str | None = None
    received_from: dt.datetime | None = None
    received_to: dt.datetime | None = None
    statuses: tuple[QuarantineStatus, ...] = (QuarantineStatus.OPEN,)


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    """One quarantined record as the principal may see it."""

    id: int
    source_id: int
    source_key: str
    source_name: str
    contract_version: int | None
    rule: str
    field: str | None
    reason: str | None
    """None: withheld, it concerns a field the principal may not see."""
    received_at: dt.datetime
    status: QuarantineStatus
    acted_by: str | None
    acted_at: dt.datetime | None
    note: str | None
    payload: Any
    """The parsed payload, masked; or the raw text (masked) when it never parsed; or None."""
    parsed: bool
    """Whether ``payload`` is the parsed record (False: raw text, or nothing)."""
    batch_id: uuid.UUID | None = None
    record_index: int | None = None

    @property
    def payload_text(self) -> str:
        """The payload as a reader sees it: JSON for a parsed record, the raw text otherwise."""
        if self.payload is None:
            return ""
        if self.parsed:
            return json.dumps(self.payload, ensure_ascii=False, sort_keys=True, default=str)
        return str(self.payload)


@dataclass(frozen=True, slots=True)
class QuarantinePage:
    items: list[QuarantineItem]
    offset: int
    total: int
    """Matching records, counted up to the row limit."""
    capped: bool
    """More than ``total`` match: only the first ``total`` can be paged through."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """What one principal may see of the payloads of some sources (by their current contract)."""

    principal: Principal
    contracts: dict[int, Contract] = field(default_factory=dict)

    @property
    def sees_everything(self) -> bool:
        return self.principal.mask_level == "pii"

    def payload(self, source_id: int, payload: Any, raw: str | None) -> tuple[Any, bool]:
        """The payload as shown (masked), and whether it is the parsed record."""
        contract = self.contracts.get(source_id)
        if isinstance(payload, dict):
            return visible_attrs(
                contract, self.principal, {str(k): v for k, v in payload.items()}
            ), True
        whole = payload if payload is not None else raw
        if whole is None:
            return None, False
        # No field names to classify by: the whole value is treated as pii (fail closed).
        shown = visible_attrs(None, self.principal, {"value": whole}).get("value")
        return shown, payload is not None

    def sees_field(self, source_id: int, name: str | None) -> bool:
        """Whether a value of the field would be shown unmasked (None: no field, yes)."""
        if name is None or self.sees_everything:
            return True
        shown = visible_attrs(self.contracts.get(source_id), self.principal, {name: _PROBE})
        return shown.get(name) is _PROBE

    def visible_fields(self) -> list[tuple[int, str]]:
        """(source id, field) of every field the principal sees unmasked, by current contract."""
        return [
            (source_id, spec.name)
            for source_id, contract in self.contracts.items()
            for spec in contract.fields
            if self.sees_field(source_id, spec.name)
        ]


_SOURCES = f"""
SELECT s.id, s.key, s.name, s.active,
       (SELECT count(*) FROM quarantine q WHERE q.source_id = s.id AND q.status = 'open')
FROM sources s JOIN org_units ou ON ou.id = s.owner_unit_id
WHERE ou.path <@ ANY({IN_SCOPE})
  AND (CAST(:source_id AS integer) IS NULL OR s.id = CAST(:source_id AS integer))
ORDER BY s.name, s.id
LIMIT :limit
"""


def quarantine_sources(
    connection: Connection,
    principal: Principal,
    *,
    source_id: int | None = None,
    limit: int = MAX_SOURCES,
) -> list[QuarantineSource]:
    """The sources whose quarantine the principal may browse and act on (owner unit in
    scope), by name, with their open records counted.

    Raises:
        AccessDenied: missing ``quarantine:manage``.
    """
    principal.require(Permission.QUARANTINE_MANAGE)
    rows = connection.execute(
        text(_SOURCES),
        {"source_id": source_id, "limit": limit, **scope_params(principal.scope_paths)},
    )
    return [QuarantineSource(int(i), str(k), str(n), bool(a), int(c)) for i, k, n, a, c in rows]


def source_in_scope(
    connection: Connection, principal: Principal, source_id: int
) -> QuarantineSource:
    """One source whose quarantine the principal may act on.

    Raises:
        AccessDenied: missing ``quarantine:manage``, or no such source in scope.
    """
    found = quarantine_sources(connection, principal, source_id=source_id, limit=1)
    if not found:
        raise AccessDenied(NO_SOURCE)
    return found[0]


def current_contracts(connection: Connection, source_ids: Collection[int]) -> dict[int, Contract]:
    """The newest contract of each source that has one."""
    if not source_ids:
        return {}
    rows = connection.execute(
        text(
            "SELECT DISTINCT ON (source_id) source_id, version, fields FROM source_contracts "
            "WHERE source_id = ANY(:ids) ORDER BY source_id, version DESC"
        ),
        {"ids": sorted(source_ids)},
    )
    return {int(s): Contract.from_row(int(v), f) for s, v, f in rows}


def viewer_for(
    connection: Connection, principal: Principal, sources: Sequence[QuarantineSource]
) -> Viewer:
    return Viewer(principal, current_contracts(connection, [s.id for s in sources]))


def rules_in_use(
    connection: Connection, principal: Principal, source_ids: Collection[int]
) -> list[tuple[str, int]]:
    """The rules of the open records of these sources (already checked to be in scope), with
    their counts, most frequent first: the suggestions of the rule-or-reason filter."""
    principal.require(Permission.QUARANTINE_MANAGE)
    if not source_ids:
        return []
    q = QuarantinedRecord
    rows = connection.execute(
        select(q.rule, func.count())
        .where(q.source_id.in_(sorted(source_ids)), q.status == QuarantineStatus.OPEN)
        .group_by(q.rule)
        .order_by(func.count().desc(), q.rule)
        .limit(100)
    )
    return [(str(rule), int(n)) for rule, n in rows]


def filter_clauses(
    viewer: Viewer, sources: Sequence[QuarantineSource], chosen: QuarantineFilter
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of ``chosen`` over records of ``sources`` (the principal's scope).

    Raises:
        AccessDenied: ``chosen.source_id`` is not one of ``sources``.
    """
    q = QuarantinedRecord
    ids = [s.id for s in sources]
    if chosen.source_id is not None:
        if chosen.source_id not in ids:
            raise AccessDenied(NO_SOURCE)
        ids = [chosen.source_id]
    clauses: list[ColumnElement[bool]] = [q.source_id.in_(ids)]
    if chosen.statuses:
        clauses.append(q.status.in_(chosen.statuses))
    if chosen.received_from is not None:
        clauses.append(q.received_at >= chosen.received_from)
    if chosen.received_to is not None:
        clauses.append(q.received_at < chosen.received_to)
    if chosen.match is not None:
        clauses.append(_match(viewer, chosen.match))
    return clauses


def _match(viewer: Viewer, match: str) -> ColumnElement[bool]:
    if viewer.sees_everything:
        return match_clause(match)
    q = QuarantinedRecord
    visible = viewer.visible_fields()
    reason_shown = or_(q.field.is_(None), tuple_(q.source_id, q.field).in_(visible))
    if not visible:
        reason_shown = q.field.is_(None)
    # The rule always; the reason text only where the reason is shown to this principal.
    return or_(q.rule == match, and_(match_clause(match), reason_shown))


def _listing(clauses: Sequence[ColumnElement[bool]]) -> Select[*tuple[Any, ...]]:
    q = QuarantinedRecord
    acted_by = func.coalesce(func.nullif(User.display_name, ""), User.email)
    return (
        select(
            q.id,
            q.source_id,
            q.contract_version,
            q.rule,
            q.field,
            q.reason,
            q.received_at,
            q.status,
            acted_by,
            q.acted_at,
            q.note,
            q.payload,
            q.raw,
            q.batch_id,
            q.record_index,
        )
        .outerjoin(User, User.id == q.acted_by)
        .where(*clauses)
    )


def _item(viewer: Viewer, sources: dict[int, QuarantineSource], row: Any) -> QuarantineItem:
    (id_, source_id, version, rule, name, reason, received, status, by, at, note) = row[:11]
    payload, parsed = viewer.payload(source_id, row[11], row[12])
    source = sources[source_id]
    return QuarantineItem(
        id=id_,
        source_id=source_id,
        source_key=source.key,
        source_name=source.name,
        contract_version=version,
        rule=rule,
        field=name,
        reason=reason if viewer.sees_field(source_id, name) else None,
        received_at=received,
        status=QuarantineStatus(status),
        acted_by=by,
        acted_at=at,
        note=note,
        payload=payload,
        parsed=parsed,
        batch_id=row[13],
        record_index=row[14],
    )


def quarantine_page(
    connection: Connection,
    principal: Principal,
    chosen: QuarantineFilter,
    *,
    offset: int,
    page_size: int,
    row_limit: int,
) -> QuarantinePage:
    """One page of the records in scope matching ``chosen``, newest received first.

    Raises:
        AccessDenied: missing ``quarantine:manage``, or the chosen source is not in scope.
        QueryTooLarge: the page starts beyond the first ``row_limit`` matching records.
    """
    sources = quarantine_sources(connection, principal)
    if offset < 0 or page_size < 1:
        raise ValueError("a page must start at 0 or later and hold at least one record")
    if offset >= row_limit:
        raise QueryTooLarge(
            f"only the first {row_limit:,} matching records can be paged through; "
            "narrow the filters"
        )
    viewer = viewer_for(connection, principal, sources)
    clauses = filter_clauses(viewer, sources, chosen)
    q = QuarantinedRecord
    capped_ids = select(q.id).where(*clauses).limit(row_limit + 1).subquery()
    total = int(connection.execute(select(func.count()).select_from(capped_ids)).scalar_one())
    rows = connection.execute(
        _listing(clauses)
        .order_by(q.received_at.desc(), q.id.desc())
        .offset(offset)
        .limit(min(page_size, row_limit - offset))
    ).all()
    by_id = {s.id: s for s in sources}
    items = [_item(viewer, by_id, row) for row in rows]
    return QuarantinePage(items, offset, min(total, row_limit), total > row_limit)


def quarantine_record(
    connection: Connection, principal: Principal, record_id: int
) -> QuarantineItem:
    """One record in scope, masked.

    Raises:
        QuarantineNotFound: no such record in scope; AccessDenied: missing the permission.
    """
    sources = quarantine_sources(connection, principal)
    q = QuarantinedRecord
    clauses = [q.id == record_id, q.source_id.in_([s.id for s in sources])]
    row = connection.execute(_listing(clauses)).first()
    if row is None:
        raise QuarantineNotFound(NOT_FOUND)
    viewer = viewer_for(connection, principal, sources)
    return _item(viewer, {s.id: s for s in sources}, row)


def open_count(connection: Connection, source_id: int, match: str | None, cap: int) -> int:
    """Open records of a source that a replay with ``match`` would examine, counted up to
    ``cap + 1`` (the caller has checked the source is in scope)."""
    q = QuarantinedRecord
    ids = select(q.id).where(q.source_id == source_id, q.status == QuarantineStatus.OPEN)
    if match is not None:
        ids = ids.where(match_clause(match))
    capped = ids.limit(cap + 1).subquery()
    return int(connection.execute(select(func.count()).select_from(capped)).scalar_one())
