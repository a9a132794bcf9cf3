"""Reads of the admin console's log viewers: ``access_log`` and ``audit_log``, filtered, paged
and exported on the server.

Both logs span the whole organisation (who read what, who changed what): reading them needs
``audit:view`` **and** a scope over the whole organisation (every root unit granted). A
regional admin holding ``audit:view`` is refused rather than shown other regions' activity;
the logs carry no org-unit column a row could be scoped by.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Select, func, or_, select, text
from sqlalchemy.sql.elements import ColumnElement

from models.enums import Outcome
from models.logs import AccessLog, AuditLog
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, scope_params
from models.users import User

WHOLE_ORGANISATION = (
    "the access and audit logs span the whole organisation: reading them needs audit:view "
    "and a scope over the whole organisation"
)
MAX_TEXT = 200
MAX_USERS = 2000


class TooManyRows(ValueError):
    """More rows match than one export may hold; the message says how to narrow them."""


class LogKind(StrEnum):
    ACCESS = "access"
    AUDIT = "audit"


@dataclass(frozen=True, slots=True)
class LogFilter:
    """What the filter bar asks; every part is optional.

    ``user_id`` is the reader (access log) or the actor (audit log); ``system`` asks for the
    rows without a user (system actors, anonymous refusals). ``text`` is contained in the
    page or action (access log) or in the action or target (audit log). ``outcomes`` apply to
    the access log, ``target_types`` to the audit log. Times are a half-open range.
    """

    user_id: int | None = None
    system: bool = False
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    text: str | None = None
    outcomes: tuple[Outcome, ...] = ()
    target_types: tuple[str, ...] = ()
    newest_first: bool = True


@dataclass(frozen=True, slots=True)
class AccessRow:
    id: int
    at: dt.datetime
    user_id: int | None
    user: str | None
    page: str
    action: str
    scope: list[str]
    rows: int
    outcome: Outcome
    duration_ms: float | None
    client: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor_id: int | None
    actor: str
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LogPage:
    """One page of a log; ``total`` is capped (``capped`` says more match)."""

    rows: list[AccessRow] | list[AuditRow]
    offset: int
    total: int
    capped: bool


def require_log_reader(connection: Connection, principal: Principal) -> None:
    """Raise AccessDenied unless the principal holds ``audit:view`` over every root unit."""
    principal.require(Permission.AUDIT_VIEW)
    if not principal.scope_paths:
        raise AccessDenied(WHOLE_ORGANISATION)
    uncovered = connection.execute(
        text(
            "SELECT count(*) FROM org_units u WHERE u.parent_id IS NULL "
            f"AND NOT (u.path <@ ANY({IN_SCOPE}))"
        ),
        scope_params(principal.scope_paths),
    ).scalar_one()
    if uncovered:
        raise AccessDenied(WHOLE_ORGANISATION)


def _contains(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _clauses(kind: LogKind, chosen: LogFilter) -> list[ColumnElement[bool]]:
    table: type[AccessLog] | type[AuditLog] = AccessLog if kind is LogKind.ACCESS else AuditLog
    who = AccessLog.user_id if kind is LogKind.ACCESS else AuditLog.actor_id
    clauses: list[ColumnElement[bool]] = []
    if chosen.system:
        clauses.append(who.is_(None))
    elif chosen.user_id is not None:
        clauses.append(who == chosen.user_id)
    if chosen.start is not None:
        clauses.append(table.at >= chosen.start)
    if chosen.end is not None:
        clauses.append(table.at < chosen.end)
    if chosen.text:
        pattern = _contains(chosen.text)
        if kind is LogKind.ACCESS:
            matched = [
                AccessLog.page.ilike(pattern, escape="\\"),
                AccessLog.action.ilike(pattern, escape="\\"),
            ]
        else:
            matched = [
                AuditLog.action.ilike(pattern, escape="\\"),
                AuditLog.target_type.ilike(pattern, escape="\\"),
                AuditLog.target_id.ilike(pattern, escape="\\"),
            ]
        clauses.append(or_(*matched))
    if kind is LogKind.ACCESS and chosen.outcomes:
        clauses.append(AccessLog.outcome.in_(chosen.outcomes))
    if kind is LogKind.AUDIT and chosen.target_types:
        clauses.append(AuditLog.target_type.in_(chosen.target_types))
    return clauses


def _listing(kind: LogKind, chosen: LogFilter) -> Select[Any]:
    if kind is LogKind.ACCESS:
        person = func.coalesce(func.nullif(User.display_name, ""), User.email)
        query: Select[Any] = select(  # type: ignore[assignment]
            AccessLog.id,
            AccessLog.at,
            AccessLog.user_id,
            person,
            AccessLog.page,
            AccessLog.action,
            AccessLog.scope,
            AccessLog.rows,
            AccessLog.outcome,
            AccessLog.duration_ms,
            AccessLog.client,
            AccessLog.detail,
        ).outerjoin(User, User.id == AccessLog.user_id)
        at, key = AccessLog.at, AccessLog.id
    else:
        query = select(
            AuditLog.id,
            AuditLog.at,
            AuditLog.actor_id,
            AuditLog.actor,
            AuditLog.action,
            AuditLog.target_type,
            AuditLog.target_id,
            AuditLog.before,
            AuditLog.after,
            AuditLog.detail,
        )
        at, key = AuditLog.at, AuditLog.id
    query = query.where(*_clauses(kind, chosen))
    if chosen.newest_first:
        return query.order_by(at.desc(), key.desc())
    return query.order_by(at, key)


def _rows(kind: LogKind, rows: Sequence[Any]) -> list[AccessRow] | list[AuditRow]:
    if kind is LogKind.ACCESS:
        return [AccessRow(*row) for row in rows]
    return [AuditRow(*row) for row in rows]


def _count(connection: Connection, kind: LogKind, chosen: LogFilter, cap: int) -> int:
    key = AccessLog.id if kind is LogKind.ACCESS else AuditLog.id
    inner = select(key).where(*_clauses(kind, chosen)).limit(cap + 1).subquery()
    return int(connection.execute(select(func.count()).select_from(inner)).scalar_one())


def log_page(
    connection: Connection,
    principal: Principal,
    kind: LogKind,
    chosen: LogFilter,
    *,
    offset: int,
    page_size: int,
    cap: int,
) -> LogPage:
    """One page of the log matching ``chosen``; at most ``cap`` rows are counted and can be
    paged through (narrow the filters for the rest).

    Raises:
        AccessDenied: see :func:`require_log_reader`.
        ValueError: the page lies beyond ``cap``.
    """
    require_log_reader(connection, principal)
    if offset >= cap:
        raise ValueError(f"only the first {cap:,} matching rows can be paged through")
    total = _count(connection, kind, chosen, cap)
    query = _listing(kind, chosen).offset(offset).limit(min(page_size, cap - offset))
    rows = connection.execute(query).all()
    return LogPage(_rows(kind, rows), offset, min(total, cap), total > cap)


def log_export(
    connection: Connection,
    principal: Principal,
    kind: LogKind,
    chosen: LogFilter,
    *,
    max_rows: int,
) -> list[AccessRow] | list[AuditRow]:
    """Every row matching ``chosen``, in the chosen order.

    Raises:
        AccessDenied: see :func:`require_log_reader`.
        TooManyRows: more than ``max_rows`` match (nothing is read).
    """
    require_log_reader(connection, principal)
    if _count(connection, kind, chosen, max_rows) > max_rows:
        raise TooManyRows(
            f"more than {max_rows:,} rows match; narrow the filters (the time range, a user) "
            "and export again"
        )
    return _rows(kind, connection.execute(_listing(kind, chosen).limit(max_rows)).all())


def log_users(
    connection: Connection, principal: Principal, *, limit: int = MAX_USERS
) -> list[tuple[int, str]]:
    """Every user (id, ``name <e-mail>``), by name, for the user filter."""
    require_log_reader(connection, principal)
    person = func.coalesce(func.nullif(User.display_name, ""), User.email)
    rows = connection.execute(
        select(User.id, person, User.email).order_by(person, User.id).limit(limit)
    )
    return [(int(i), f"{name} <{email}>") for i, name, email in rows]


def audit_target_types(connection: Connection, principal: Principal) -> list[str]:
    """The kinds of target the audit log names (``source``, ``user``, ``role``, …)."""
    require_log_reader(connection, principal)
    rows = connection.execute(
        select(AuditLog.target_type).distinct().order_by(AuditLog.target_type).limit(200)
    )
    return [str(r[0]) for r in rows]
