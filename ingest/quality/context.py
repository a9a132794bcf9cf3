"""What every check of a cycle sees: the time, the thresholds, and the facts read up front."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from models.enums import Granularity
from models.quality import measures
from models.quality.measures import DriftEvent, SourceSpec
from models.quality.reconcile import Watermark, load_watermarks
from models.quality.windows import Window, same_window_before, settled_window
from models.settings import Settings


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The checks' limits (from the ``NORTHSTAR_DQ_*`` settings; tests build their own)."""

    settle: dt.timedelta
    history_weeks: int
    min_history_weeks: int
    completeness_max_drop: float
    completeness_noise_z: float
    anomaly_warning_z: float
    anomaly_failing_z: float
    validity_warning_share: float
    validity_failing_share: float
    integrity_failing_share: float
    reconcile_lookback: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            settle=dt.timedelta(seconds=settings.dq_settle_s),
            history_weeks=settings.dq_history_weeks,
            min_history_weeks=settings.dq_min_history_weeks,
            completeness_max_drop=settings.dq_completeness_max_drop,
            completeness_noise_z=settings.dq_completeness_noise_z,
            anomaly_warning_z=settings.dq_anomaly_warning_z,
            anomaly_failing_z=settings.dq_anomaly_failing_z,
            validity_warning_share=settings.dq_validity_warning_share,
            validity_failing_share=settings.dq_validity_failing_share,
            integrity_failing_share=settings.dq_integrity_failing_share,
            reconcile_lookback=dt.timedelta(seconds=settings.dq_reconcile_lookback_s),
        )

    def settle_for(self, source: SourceSpec) -> dt.timedelta:
        """How long after a window closes the source's records are all in: a pulled source
        delivers once per pull interval."""
        return max(self.settle, dt.timedelta(seconds=source.pull_interval_s or 0))


@dataclass(frozen=True, slots=True)
class CycleFacts:
    """Everything the windowed checks need, for every source, read in a few queries."""

    windows: Mapping[int, Window]
    """The window each source is judged on: its newest settled 15-minute window."""
    newest: Mapping[int, dt.datetime | None]
    counts: Mapping[tuple[int, dt.datetime], int]
    """Records by (count metric id, window start): the judged windows and their history."""
    rejected: Mapping[int, Mapping[str, int]]
    unknown_references: Mapping[int, Mapping[str, int]]
    drift: Mapping[int, Sequence[DriftEvent]]
    watermarks: Mapping[tuple[int, Granularity], Watermark]
    history_weeks: int

    def volume(self, source: SourceSpec, window: Window) -> int | None:
        """Records of ``source`` in ``window`` (None: it has no event-count metric)."""
        if source.count_metric_id is None:
            return None
        return self.counts.get((source.count_metric_id, window.start), 0)

    def history(self, source: SourceSpec, window: Window) -> list[int]:
        """Records of the same window in each previous week, newest week first."""
        if source.count_metric_id is None:
            return []
        return [
            self.counts.get((source.count_metric_id, w.start), 0)
            for w in same_window_before(window, self.history_weeks)
        ]


@dataclass(frozen=True, slots=True)
class CheckContext:
    connection: Connection
    now: dt.datetime
    thresholds: Thresholds
    facts: CycleFacts


def gather(
    connection: Connection,
    sources: Sequence[SourceSpec],
    thresholds: Thresholds,
    now: dt.datetime,
) -> CycleFacts:
    """Read the facts of every source's judged window (and its history) at ``now``."""
    windows = {s.id: settled_window(now, thresholds.settle_for(s)) for s in sources}
    wanted = [
        (s.count_metric_id, w.start)
        for s in sources
        if s.count_metric_id is not None
        for w in (windows[s.id], *same_window_before(windows[s.id], thresholds.history_weeks))
    ]
    return CycleFacts(
        windows=windows,
        newest=measures.newest_events(connection, sources),
        counts=measures.window_counts(connection, wanted),
        rejected=measures.rejected_by_rule(connection, windows),
        unknown_references=measures.unknown_references(connection, windows),
        drift=measures.drift_events(connection, windows),
        watermarks=load_watermarks(connection, [s.id for s in sources]),
        history_weeks=thresholds.history_weeks,
    )
