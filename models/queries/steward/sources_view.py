"""Reads of the source page (steward console): one source in scope and its contract versions.

For stewards (``kpi:view`` and ``incident:manage`` or ``quarantine:manage``), scoped like the
data-health reads: the sources whose owner unit lies in one of the principal's subtrees; any
other source (or none with that key) is refused the same way. The page shows pipeline facts
and contract definitions, never event values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.contracts import Contract
from models.enums import Classification, RefreshMode
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, scope_params

NO_SOURCE = "no such source in your scope"
MAX_VERSIONS = 100
STEWARD_PERMISSIONS = (Permission.INCIDENT_MANAGE, Permission.QUARANTINE_MANAGE)
"""Holding either makes a steward: the source page is a page of the steward console."""


@dataclass(frozen=True, slots=True)
class SourceDetail:
    """What the source page says about a source."""

    id: int
    key: str
    name: str
    description: str
    owner_unit: str
    steward: str | None
    refresh_mode: RefreshMode
    freshness_sla_s: int
    expected_volume_per_15m: int | None
    retention_days: int
    sensitivity: Classification
    partner_agreement_ref: str | None
    partner_agreement_expires_at: dt.datetime | None
    active: bool
    pull_interval_s: int | None
    open_quarantined: int | None
    """Open quarantined records; None unless the principal holds ``quarantine:manage``."""


@dataclass(frozen=True, slots=True)
class ContractVersion:
    """One stored version of a source's contract."""

    contract: Contract
    note: str
    created_at: dt.datetime
    created_by: str | None

    @property
    def version(self) -> int:
        return self.contract.version


_SOURCE = f"""
SELECT s.id, s.key, s.name, s.description, ou.name AS owner_unit,
       coalesce(nullif(st.display_name, ''), st.email) AS steward,
       CAST(s.refresh_mode AS text), s.freshness_sla_s, s.expected_volume_per_15m,
       s.retention_days, CAST(s.sensitivity AS text), s.partner_agreement_ref,
       s.partner_agreement_expires_at, s.active, s.pull_interval_s,
       (SELECT count(*) FROM quarantine q WHERE q.source_id = s.id AND q.status = 'open')
FROM sources s
JOIN org_units ou ON ou.id = s.owner_unit_id
LEFT JOIN users st ON st.id = s.steward_id
WHERE s.key = :key AND ou.path <@ ANY({IN_SCOPE})
"""


def source_detail(connection: Connection, principal: Principal, key: str) -> SourceDetail:
    """The source with this key, if its owner unit is in the principal's scope.

    Raises:
        AccessDenied: missing ``kpi:view``, or neither ``incident:manage`` nor
            ``quarantine:manage``, or no such source in scope (indistinguishably).
    """
    principal.require(Permission.KPI_VIEW)
    if not any(principal.has(p) for p in STEWARD_PERMISSIONS):
        raise AccessDenied("missing permission incident:manage or quarantine:manage")
    row = connection.execute(
        text(_SOURCE), {"key": key, **scope_params(principal.scope_paths)}
    ).first()
    if row is None:
        raise AccessDenied(NO_SOURCE)
    may_see_quarantine = principal.has(Permission.QUARANTINE_MANAGE)
    return SourceDetail(
        id=row[0],
        key=row[1],
        name=row[2],
        description=row[3],
        owner_unit=row[4],
        steward=row[5],
        refresh_mode=RefreshMode(row[6]),
        freshness_sla_s=row[7],
        expected_volume_per_15m=row[8],
        retention_days=row[9],
        sensitivity=Classification(row[10]),
        partner_agreement_ref=row[11],
        partner_agreement_expires_at=row[12],
        active=row[13],
        pull_interval_s=row[14],
        open_quarantined=int(row[15]) if may_see_quarantine else None,
    )


def contract_versions(
    connection: Connection, source: SourceDetail, *, limit: int = MAX_VERSIONS
) -> list[ContractVersion]:
    """The source's contract versions (of a source read by :func:`source_detail`), newest
    first, at most ``limit`` (the page diffs each with the one before it)."""
    rows = connection.execute(
        text(
            "SELECT c.version, c.fields, c.note, c.created_at, "
            "coalesce(nullif(u.display_name, ''), u.email) "
            "FROM source_contracts c LEFT JOIN users u ON u.id = c.created_by "
            "WHERE c.source_id = :source ORDER BY c.version DESC LIMIT :limit"
        ),
        {"source": source.id, "limit": limit},
    )
    return [
        ContractVersion(Contract.from_row(int(v), fields), str(note), created, by)
        for v, fields, note, created, by in rows
    ]
