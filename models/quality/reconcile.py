"""Reconciliation SQL: rollups recomputed from raw events against the stored rollups.

The recomputation is the write path's own arithmetic (``models.writes``): an event feeds its
source's count metric with 1 and each measure metric whose measure it carries with that value,
bucketed with ``date_bin`` from a UTC midnight. Recomputed and stored rows are compared in
one statement, so both are read from the same snapshot: a batch committed meanwhile (which
writes events and rollups in one transaction) is seen entirely or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, text
from sqlalchemy.dialects.postgresql import insert

from models.enums import Granularity
from models.facts import BUCKET_WIDTH, ROLLUPS, square
from models.quality.tables import DqWatermark
from models.quality.windows import Window

REL_TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-6
"""Sums of floats differ with the order they were added in; counts and times must be equal."""

_UTC_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"


def _close(a: str, b: str) -> str:
    # Equal first: two infinite sums of squares (models.facts.square) differ by NaN.
    return (
        f"(a.{a} = b.{b} OR abs(a.{a} - b.{b}) <= {ABS_TOLERANCE} + {REL_TOLERANCE} * "
        f"greatest(abs(a.{a}), abs(b.{b})))"
    )


def _statement(table: str) -> str:
    same = " AND ".join(_close(c, c) for c in ("total", "min_v", "max_v", "sum_sq"))
    return f"""
WITH recomputed AS (
    SELECT date_bin(CAST(:width AS interval), x.ts, {_UTC_ORIGIN}) AS bucket, x.metric_id,
           x.org_unit_id, count(*) AS n, sum(x.v) AS total, min(x.v) AS min_v,
           max(x.v) AS max_v, sum({square("x.v")}) AS sum_sq, max(x.ts) AS last_ts
    FROM (
        SELECT e.ts, m.id AS metric_id, e.org_unit_id,
               CASE WHEN m.measure IS NULL THEN 1.0
                    ELSE (e.measures ->> m.measure)::double precision END AS v
        FROM events e
        JOIN metrics m ON m.source_id = e.source_id
         AND (m.measure IS NULL OR e.measures ? m.measure)
        WHERE e.source_id = :source_id AND e.ts >= :start AND e.ts < :end
        OFFSET 0
    ) x
    GROUP BY 1, 2, 3
),
stored AS (
    SELECT r.bucket, r.metric_id, r.org_unit_id, r.n, r.total, r.min_v, r.max_v, r.sum_sq,
           r.last_ts
    FROM {table} r
    WHERE r.metric_id IN (SELECT m.id FROM metrics m WHERE m.source_id = :source_id)
      AND r.bucket >= :start AND r.bucket < :end
),
differing AS (
    SELECT coalesce(a.bucket, b.bucket) AS bucket,
           coalesce(a.metric_id, b.metric_id) AS metric_id,
           coalesce(a.org_unit_id, b.org_unit_id) AS org_unit_id,
           a.n AS want_n, a.total AS want_total, a.min_v AS want_min, a.max_v AS want_max,
           a.sum_sq AS want_sum_sq, a.last_ts AS want_last_ts,
           b.n AS have_n, b.total AS have_total, b.min_v AS have_min, b.max_v AS have_max,
           b.sum_sq AS have_sum_sq, b.last_ts AS have_last_ts
    FROM recomputed a
    FULL JOIN stored b
      ON a.bucket = b.bucket AND a.metric_id = b.metric_id AND a.org_unit_id = b.org_unit_id
    WHERE a.bucket IS NULL OR b.bucket IS NULL OR a.n <> b.n OR a.last_ts <> b.last_ts
       OR NOT ({same})
)
SELECT (SELECT count(*) FROM stored) AS compared, (SELECT count(*) FROM differing) AS differ,
       ARRAY(SELECT DISTINCT date_bin(CAST(:step AS interval), bucket, {_UTC_ORIGIN})
             FROM differing ORDER BY 1 LIMIT :max_windows) AS windows,
       d.*
FROM (SELECT 1) one
LEFT JOIN LATERAL (
    SELECT * FROM differing ORDER BY bucket, metric_id, org_unit_id LIMIT :sample
) d ON true
"""


_STATEMENTS = {g: text(_statement(t.name)) for g, t in ROLLUPS.items()}


@dataclass(frozen=True, slots=True)
class Difference:
    """One rollup row that does not match its events (``want`` recomputed, ``have`` stored;
    None where the row is missing on that side)."""

    table: str
    bucket: dt.datetime
    metric_id: int
    org_unit_id: int
    want: Mapping[str, Any] | None
    have: Mapping[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "bucket": self.bucket.isoformat(),
            "metric_id": self.metric_id,
            "org_unit_id": self.org_unit_id,
            "want": self.want,
            "have": self.have,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome of reconciling one range of one rollup table."""

    granularity: Granularity
    window: Window
    compared: int
    differing: int
    sample: tuple[Difference, ...]
    differing_windows: tuple[Window, ...]
    """The ``step``-long windows holding a differing row (at most ``max_windows``)."""


def _side(row: RowMapping, prefix: str) -> dict[str, Any] | None:
    if row[f"{prefix}_n"] is None:
        return None
    last: dt.datetime = row[f"{prefix}_last_ts"]
    return {
        "n": int(row[f"{prefix}_n"]),
        "total": row[f"{prefix}_total"],
        "min_v": row[f"{prefix}_min"],
        "max_v": row[f"{prefix}_max"],
        "sum_sq": row[f"{prefix}_sum_sq"],
        "last_ts": last.isoformat(),
    }


def compare_range(
    connection: Connection,
    source_id: int,
    granularity: Granularity,
    window: Window,
    step: dt.timedelta,
    *,
    sample: int = 10,
    max_windows: int = 20,
) -> Comparison:
    """Recompute ``granularity``'s rollup rows of ``source_id`` in ``window`` from the events
    and compare them with the stored rows (``sample`` differences are kept, and the
    ``step``-aligned windows holding differences)."""
    rows = (
        connection.execute(
            _STATEMENTS[granularity],
            {
                "source_id": source_id,
                "start": window.start,
                "end": window.end,
                "width": BUCKET_WIDTH[granularity],
                "sample": sample,
                "step": step,
                "max_windows": max_windows,
            },
        )
        .mappings()
        .all()
    )
    table = ROLLUPS[granularity].name
    differences = tuple(
        Difference(
            table=table,
            bucket=row["bucket"],
            metric_id=row["metric_id"],
            org_unit_id=row["org_unit_id"],
            want=_side(row, "want"),
            have=_side(row, "have"),
        )
        for row in rows
        if row["bucket"] is not None
    )
    first = rows[0]
    return Comparison(
        granularity,
        window,
        int(first["compared"]),
        int(first["differ"]),
        differences,
        tuple(Window(start, start + step) for start in first["windows"]),
    )


# --- watermarks --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Watermark:
    """Reconciled up to ``through`` (exclusive); ``unresolved`` ranges differed last time."""

    through: dt.datetime
    unresolved: tuple[Window, ...]


def load_watermarks(
    connection: Connection, source_ids: Sequence[int]
) -> dict[tuple[int, Granularity], Watermark]:
    rows = connection.execute(
        text(
            "SELECT source_id, CAST(granularity AS text), reconciled_through, unresolved "
            "FROM dq_watermarks WHERE source_id = ANY(:ids)"
        ),
        {"ids": list(source_ids)},
    )
    return {
        (source_id, Granularity(granularity)): Watermark(
            through,
            tuple(
                Window(dt.datetime.fromisoformat(r["start"]), dt.datetime.fromisoformat(r["end"]))
                for r in unresolved
            ),
        )
        for source_id, granularity, through, unresolved in rows
    }


def save_watermark(
    connection: Connection, source_id: int, granularity: Granularity, mark: Watermark
) -> None:
    unresolved = [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in mark.unresolved]
    statement = insert(DqWatermark).values(
        source_id=source_id,
        granularity=granularity,
        reconciled_through=mark.through,
        unresolved=unresolved,
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["source_id", "granularity"],
            set_={
                "reconciled_through": statement.excluded.reconciled_through,
                "unresolved": statement.excluded.unresolved,
            },
        )
    )
