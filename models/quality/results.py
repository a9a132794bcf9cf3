"""The check catalogue and the stored check results (``dq_checks``, ``dq_results``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.dialects.postgresql import insert

from models.audit import json_value
from models.quality.tables import CheckKey, DqCheck, DqResult, DqState, Severity
from models.quality.windows import Window


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """What a check is called, what it judges, and the severity of the incidents it opens."""

    key: CheckKey
    name: str
    description: str
    severity: Severity


CATALOGUE: tuple[CheckSpec, ...] = (
    CheckSpec(
        CheckKey.FRESHNESS,
        "Freshness",
        "Age of the newest event against the source's freshness SLA.",
        Severity.CRITICAL,
    ),
    CheckSpec(
        CheckKey.COMPLETENESS,
        "Completeness",
        "Records of a 15-minute window against the expected volume (declared or learned).",
        Severity.WARNING,
    ),
    CheckSpec(
        CheckKey.VALIDITY,
        "Validity",
        "Share of a window's records rejected or quarantined, by rule.",
        Severity.WARNING,
    ),
    CheckSpec(
        CheckKey.VOLUME_ANOMALY,
        "Volume anomaly",
        "Robust z-score of a window's volume against the same window in previous weeks.",
        Severity.WARNING,
    ),
    CheckSpec(
        CheckKey.REFERENTIAL_INTEGRITY,
        "Referential integrity",
        "Records quarantined for a reference that does not exist (e.g. an unknown org unit).",
        Severity.WARNING,
    ),
    CheckSpec(
        CheckKey.SCHEMA_DRIFT,
        "Schema drift",
        "Fields outside the contract, or of the wrong type, in too many records.",
        Severity.WARNING,
    ),
    CheckSpec(
        CheckKey.RECONCILIATION,
        "Reconciliation",
        "Rollups of closed windows recomputed from the raw events must equal the stored ones.",
        Severity.CRITICAL,
    ),
)


@dataclass(frozen=True, slots=True)
class CheckDefinition:
    """A row of ``dq_checks``."""

    id: int
    key: CheckKey
    name: str
    severity: Severity
    enabled: bool


def ensure_checks(connection: Connection) -> dict[CheckKey, CheckDefinition]:
    """Insert the checks of :data:`CATALOGUE` that are missing; return every known check.

    Existing rows are left as they are: a steward may have disabled a check or changed its
    severity.
    """
    known = {k.value for k in CheckKey}
    found = _definitions(connection, known)
    missing = [c for c in CATALOGUE if c.key not in found]
    if missing:
        # Only what is missing: ON CONFLICT alone would still draw an id every cycle.
        connection.execute(
            insert(DqCheck)
            .values(
                [
                    {
                        "key": c.key.value,
                        "name": c.name,
                        "description": c.description,
                        "severity": c.severity,
                    }
                    for c in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        found = _definitions(connection, known)
    return found


def _definitions(connection: Connection, known: set[str]) -> dict[CheckKey, CheckDefinition]:
    rows = connection.execute(
        select(DqCheck.id, DqCheck.key, DqCheck.name, DqCheck.severity, DqCheck.enabled)
    )
    return {
        CheckKey(key): CheckDefinition(id_, CheckKey(key), name, severity, enabled)
        for id_, key, name, severity, enabled in rows
        if key in known
    }


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One evaluation of a check on one source, as a check returns it."""

    check: CheckKey
    source_id: int
    window: Window
    state: DqState
    summary: str
    value: float | None = None
    threshold: float | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A result after storing: its id, and whether its window was evaluated for the first
    time (False: an earlier evaluation of the same window was updated)."""

    id: int
    new: bool
    at: dt.datetime
    row: ResultRow

    def evidence(self) -> dict[str, Any]:
        """A copy of the result for an incident's timeline (results are pruned, timelines not)."""
        return {
            "result_id": self.id,
            "check": self.row.check.value,
            "state": self.row.state.value,
            "window_start": self.row.window.start.isoformat(),
            "window_end": self.row.window.end.isoformat(),
            "value": self.row.value,
            "threshold": self.row.threshold,
            "summary": self.row.summary,
            "context": json_value(self.row.context),
        }


_CHUNK = 500


def store_results(
    connection: Connection,
    checks: Mapping[CheckKey, CheckDefinition],
    rows: Sequence[ResultRow],
    now: dt.datetime,
) -> list[StoredResult]:
    """Insert the results; a window evaluated before is updated in place (same id).

    Returns:
        The stored results, in the order of ``rows``.
    """
    stored: list[StoredResult] = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        statement = insert(DqResult).values(
            [
                {
                    "check_id": checks[r.check].id,
                    "source_id": r.source_id,
                    "at": now,
                    "window_start": r.window.start,
                    "window_end": r.window.end,
                    "value": r.value,
                    "threshold": r.threshold,
                    "state": r.state,
                    "summary": r.summary,
                    "context": json_value(r.context),
                }
                for r in chunk
            ]
        )
        excluded = statement.excluded
        upsert = statement.on_conflict_do_update(
            index_elements=["check_id", "source_id", "window_start", "window_end"],
            set_={
                "at": excluded.at,
                "value": excluded.value,
                "threshold": excluded.threshold,
                "state": excluded.state,
                "summary": excluded.summary,
                "context": excluded.context,
            },
        ).returning(
            DqResult.id,
            DqResult.check_id,
            DqResult.source_id,
            DqResult.window_start,
            DqResult.window_end,
            # xmax is 0 on a freshly inserted row, the updating transaction's id otherwise.
            text("(xmax = 0) AS inserted"),
        )
        by_key = {
            (check_id, source_id, ws, we): (id_, bool(inserted))
            for id_, check_id, source_id, ws, we, inserted in connection.execute(upsert)
        }
        for r in chunk:
            id_, new = by_key[(checks[r.check].id, r.source_id, r.window.start, r.window.end)]
            stored.append(StoredResult(id_, new, now, r))
    return stored


def prune_results(connection: Connection, before: dt.datetime) -> int:
    """Delete results evaluated before ``before``; incidents keep their copies of evidence."""
    return connection.execute(delete(DqResult).where(DqResult.at < before)).rowcount
