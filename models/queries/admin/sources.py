"""Reads of the admin console's source pages: the sources in scope with their keys, the choices
the forms offer, and the recent records a contract preview re-validates.

Everything needs ``source:manage`` and is scoped like the steward console: a source belongs to
the principal when its owner unit lies in one of the principal's subtrees; any other source
(or none with that key) is refused the same way. The preview reads (recent events, recent
quarantine) return raw values: they are re-validated on the server and only counted, never
shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from models.contracts import Contract
from models.enums import Classification, PullKind, RefreshMode
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, scope_params
from models.queries.steward.sources_view import ContractVersion

MANAGE = Permission.SOURCE_MANAGE
NO_SOURCE = "no such source in your scope"
STEWARD_PERMISSIONS = (Permission.INCIDENT_MANAGE.value, Permission.QUARANTINE_MANAGE.value)
"""Holding either makes a user a possible steward of a source (the steward console's test)."""
MAX_CHOICES = 1000


@dataclass(frozen=True, slots=True)
class AdminSourceRow:
    """One line of the sources list."""

    key: str
    name: str
    owner_unit: str
    steward: str | None
    refresh_mode: RefreshMode
    freshness_sla_s: int
    expected_volume_per_15m: int | None
    retention_days: int
    sensitivity: Classification
    active: bool
    contract_version: int | None
    active_keys: int
    last_key_use: dt.datetime | None


@dataclass(frozen=True, slots=True)
class AdminSource:
    """One source as its admin page shows and edits it."""

    id: int
    key: str
    name: str
    description: str
    owner_unit_id: int
    owner_unit: str
    owner_path: str
    steward_id: int | None
    steward: str | None
    refresh_mode: RefreshMode
    freshness_sla_s: int
    expected_volume_per_15m: int | None
    retention_days: int
    sensitivity: Classification
    active: bool
    partner_agreement_ref: str | None = None
    partner_agreement_expires_at: dt.datetime | None = None
    pull_kind: PullKind | None = None
    pull_target: str | None = None
    pull_query: str | None = None
    pull_interval_s: int | None = None


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An API key as the keys list shows it (never its hash)."""

    id: int
    prefix: str
    label: str
    created_at: dt.datetime
    created_by: str | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class Choice:
    """An option of a form's dropdown: a database id and what the admin reads."""

    value: int
    label: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A stored event as the preview rebuilds the record it came from."""

    event_id: str
    ts: dt.datetime
    org_unit_key: str | None
    measures: dict[str, Any]
    dims: dict[str, Any]
    attrs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QuarantinedInput:
    """A quarantined record's input: the parsed payload, or the raw text when none."""

    id: int
    payload: Any
    raw: str | None


_PERSON = "coalesce(nullif({t}.display_name, ''), {t}.email)"
_LIST = f"""
SELECT s.key, s.name, ou.name, {_PERSON.format(t="st")}, CAST(s.refresh_mode AS text),
       s.freshness_sla_s, s.expected_volume_per_15m, s.retention_days,
       CAST(s.sensitivity AS text), s.active,
       (SELECT max(c.version) FROM source_contracts c WHERE c.source_id = s.id),
       (SELECT count(*) FROM source_api_keys k WHERE k.source_id = s.id
          AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > :now)),
       (SELECT max(k.last_used_at) FROM source_api_keys k WHERE k.source_id = s.id)
FROM sources s
JOIN org_units ou ON ou.id = s.owner_unit_id
LEFT JOIN users st ON st.id = s.steward_id
WHERE ou.path <@ ANY({IN_SCOPE})
ORDER BY s.name, s.key
LIMIT :limit
"""


def admin_sources(
    connection: Connection, principal: Principal, now: dt.datetime, *, limit: int
) -> list[AdminSourceRow]:
    """The sources the principal manages, by name, with their contract version and keys.

    Raises:
        AccessDenied: missing ``source:manage``.
    """
    principal.require(MANAGE)
    rows = connection.execute(
        text(_LIST), {"now": now, "limit": limit, **scope_params(principal.scope_paths)}
    )
    return [
        AdminSourceRow(
            key=r[0],
            name=r[1],
            owner_unit=r[2],
            steward=r[3],
            refresh_mode=RefreshMode(r[4]),
            freshness_sla_s=r[5],
            expected_volume_per_15m=r[6],
            retention_days=r[7],
            sensitivity=Classification(r[8]),
            active=r[9],
            contract_version=r[10],
            active_keys=int(r[11]),
            last_key_use=r[12],
        )
        for r in rows
    ]


_ONE = f"""
SELECT s.id, s.key, s.name, s.description, ou.id, ou.name, CAST(ou.path AS text),
       s.steward_id, {_PERSON.format(t="st")}, CAST(s.refresh_mode AS text),
       s.freshness_sla_s, s.expected_volume_per_15m, s.retention_days,
       CAST(s.sensitivity AS text), s.active, s.partner_agreement_ref,
       s.partner_agreement_expires_at, CAST(s.pull_kind AS text), s.pull_target, s.pull_query,
       s.pull_interval_s
FROM sources s
JOIN org_units ou ON ou.id = s.owner_unit_id
LEFT JOIN users st ON st.id = s.steward_id
WHERE s.key = :key AND ou.path <@ ANY({IN_SCOPE})
"""


def admin_source(connection: Connection, principal: Principal, key: str) -> AdminSource:
    """The source with this key, if the principal manages it.

    Raises:
        AccessDenied: missing ``source:manage``, or no such source in scope
            (indistinguishably).
    """
    principal.require(MANAGE)
    row = connection.execute(
        text(_ONE), {"key": key, **scope_params(principal.scope_paths)}
    ).first()
    if row is None:
        raise AccessDenied(NO_SOURCE)
    return AdminSource(
        id=row[0],
        key=row[1],
        name=row[2],
        description=row[3],
        owner_unit_id=row[4],
        owner_unit=row[5],
        owner_path=row[6],
        steward_id=row[7],
        steward=row[8],
        refresh_mode=RefreshMode(row[9]),
        freshness_sla_s=row[10],
        expected_volume_per_15m=row[11],
        retention_days=row[12],
        sensitivity=Classification(row[13]),
        active=row[14],
        partner_agreement_ref=row[15],
        partner_agreement_expires_at=row[16],
        pull_kind=None if row[17] is None else PullKind(row[17]),
        pull_target=row[18],
        pull_query=row[19],
        pull_interval_s=row[20],
    )


def source_keys(connection: Connection, source: AdminSource) -> list[KeyRow]:
    """The keys of a source read by :func:`admin_source`, newest first."""
    rows = connection.execute(
        text(
            "SELECT k.id, k.prefix, k.label, k.created_at, "
            f"{_PERSON.format(t='u')}, k.expires_at, k.revoked_at, k.last_used_at "
            "FROM source_api_keys k LEFT JOIN users u ON u.id = k.created_by "
            "WHERE k.source_id = :source ORDER BY k.created_at DESC, k.id DESC"
        ),
        {"source": source.id},
    )
    return [KeyRow(*row) for row in rows]


def unit_choices(
    connection: Connection,
    principal: Principal,
    *,
    limit: int = MAX_CHOICES,
    permission: Permission = MANAGE,
) -> list[Choice]:
    """The active org units in scope (a new source's or KPI's possible owners), in tree order."""
    principal.require(permission)
    rows = connection.execute(
        text(
            "SELECT u.id, u.name, u.key, nlevel(u.path) FROM org_units u "
            f"WHERE u.active AND u.path <@ ANY({IN_SCOPE}) ORDER BY u.path LIMIT :limit"
        ),
        {"limit": limit, **scope_params(principal.scope_paths)},
    )
    found = rows.all()
    # Indented by depth below the principal's top units, so a region reads as a top unit.
    top = min((int(r[3]) for r in found), default=1)
    return [Choice(int(i), f"{'· ' * (int(d) - top)}{name} ({key})") for i, name, key, d in found]


_STEWARD = """
u.is_active
AND EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id
            WHERE ur.user_id = u.id AND CAST(rp.permission AS text) = ANY(:steward_perms))
"""


def steward_choices(
    connection: Connection,
    principal: Principal,
    *,
    covering: str | None = None,
    limit: int = MAX_CHOICES,
    permission: Permission = MANAGE,
) -> list[Choice]:
    """Active users who may act as stewards, by name: those who see part of the principal's
    scope, or with ``covering`` (a unit's path) those whose scope includes that unit.
    ``permission``: what the asking page needs (``source:manage``, or ``catalog:manage``)."""
    principal.require(permission)
    if covering is None:
        where = f"(ou.path <@ ANY({IN_SCOPE}) OR ou.path @> ANY({IN_SCOPE}))"
    else:
        where = "CAST(:covering AS ltree) <@ ou.path"
    rows = connection.execute(
        text(
            f"SELECT u.id, {_PERSON.format(t='u')} AS shown, u.email FROM users u "
            f"WHERE {_STEWARD} AND EXISTS (SELECT 1 FROM user_scopes us "
            "JOIN org_units ou ON ou.id = us.org_unit_id WHERE us.user_id = u.id "
            f"AND {where}) ORDER BY shown, u.id LIMIT :limit"
        ),
        {
            "limit": limit,
            "covering": covering,
            "steward_perms": list(STEWARD_PERMISSIONS),
            **scope_params(principal.scope_paths),
        },
    )
    return [Choice(int(i), f"{shown} <{email}>") for i, shown, email in rows]


def may_steward(connection: Connection, user_id: int, unit_path: str) -> bool:
    """Whether the user is active, holds a steward permission and sees the unit (its path)."""
    found = connection.execute(
        text(
            f"SELECT 1 FROM users u WHERE u.id = :user AND {_STEWARD} "
            "AND EXISTS (SELECT 1 FROM user_scopes us JOIN org_units ou "
            "ON ou.id = us.org_unit_id WHERE us.user_id = u.id "
            "AND CAST(:path AS ltree) <@ ou.path)"
        ),
        {"user": user_id, "path": unit_path, "steward_perms": list(STEWARD_PERMISSIONS)},
    ).first()
    return found is not None


def unit_path_in_scope(connection: Connection, principal: Principal, unit_id: int) -> str | None:
    """The ltree path of the unit with this id if it lies in the principal's scope."""
    return connection.execute(
        text(
            "SELECT CAST(u.path AS text) FROM org_units u "
            f"WHERE u.id = :unit AND u.path <@ ANY({IN_SCOPE})"
        ),
        {"unit": unit_id, **scope_params(principal.scope_paths)},
    ).scalar_one_or_none()


def recent_events(connection: Connection, source_id: int, *, limit: int) -> list[StoredEvent]:
    """The source's newest stored events (by event time), at most ``limit``."""
    rows = connection.execute(
        text(
            "SELECT e.event_id, e.ts, ou.key, e.measures, e.dims, e.attrs FROM events e "
            "LEFT JOIN org_units ou ON ou.id = e.org_unit_id "
            "WHERE e.source_id = :source ORDER BY e.ts DESC, e.event_id DESC LIMIT :limit"
        ),
        {"source": source_id, "limit": limit},
    )
    return [StoredEvent(*row) for row in rows]


def recent_quarantine(
    connection: Connection, source_id: int, *, limit: int
) -> list[QuarantinedInput]:
    """The source's newest quarantined records that were not replayed (those are events now)."""
    rows = connection.execute(
        text(
            "SELECT q.id, q.payload, q.raw FROM quarantine q "
            "WHERE q.source_id = :source AND q.status <> 'replayed' "
            "ORDER BY q.received_at DESC, q.id DESC LIMIT :limit"
        ),
        {"source": source_id, "limit": limit},
    )
    return [QuarantinedInput(int(i), payload, raw) for i, payload, raw in rows]


def contract_history(
    connection: Connection, source: AdminSource, *, limit: int = 100
) -> list[ContractVersion]:
    """The contract versions of a source read by :func:`admin_source`, newest first."""
    rows = connection.execute(
        text(
            "SELECT c.version, c.fields, c.note, c.created_at, "
            f"{_PERSON.format(t='u')} FROM source_contracts c "
            "LEFT JOIN users u ON u.id = c.created_by "
            "WHERE c.source_id = :source ORDER BY c.version DESC LIMIT :limit"
        ),
        {"source": source.id, "limit": limit},
    )
    return [
        ContractVersion(Contract.from_row(int(v), fields), str(note), created, by)
        for v, fields, note, created, by in rows
    ]
