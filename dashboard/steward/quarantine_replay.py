"""Replay from the quarantine browser (not a pure builder: it runs the replay).

The page checks the user, the source's scope and the size first; this module runs
``ingest.replay.replay_source`` (its own transaction and audit row) while holding one slot of
the database cap, and words what it did.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from dashboard.auth.dbcap import QuerySlots
from dashboard.auth.policy import QUERY_SLOTS_KEY, current_services
from ingest.replay import ReplayReport, replay_source
from models.audit import Actor
from models.permissions import Principal

UI_REPLAY_MAX = 20_000
"""The most open records one replay from the browser may examine (the CLI has no bound)."""


@contextmanager
def _slot() -> Iterator[None]:
    slots: QuerySlots | None = current_app.extensions.get(QUERY_SLOTS_KEY)
    if slots is None:
        yield
        return
    with slots.slot():
        yield


def run_replay(
    principal: Principal, source_key: str, match: str | None, *, dry_run: bool
) -> ReplayReport:
    """Replay (or, with ``dry_run``, preview) the source's open records matching ``match``.

    Raises:
        ingest.streams.Backpressure: the streams are full; nothing changed.
        LookupError: the source has no contract.
        DatabaseBusy: no slot of the database cap came free in time.
    """
    actor = Actor(principal.name or f"user {principal.user_id}", principal.user_id)
    note = "" if dry_run else f"replayed from the steward console by {actor.name}"
    with _slot():
        return replay_source(
            current_services(), source_key, actor, match=match, dry_run=dry_run, note=note
        )


def _rules(report: ReplayReport) -> str:
    if not report.by_rule:
        return ""
    listed = ", ".join(f"{rule} {n:,}" for rule, n in sorted(report.by_rule.items()))
    return f" ({listed})"


def preview_text(report: ReplayReport, source_name: str) -> str:
    """``Against contract v3 of Orders: 2 would now pass, 1 still fail (max 1).``"""
    text = (
        f"Against contract v{report.contract_version} of {source_name}: "
        f"{report.replayed:,} would now pass, {report.still_failing:,} still fail"
        f"{_rules(report)}"
    )
    if report.unreadable:
        text += f", {report.unreadable:,} cannot be re-validated (no parsed payload)"
    return text + "."


def replay_text(report: ReplayReport, source_name: str) -> str:
    """What a replay did, for the steward."""
    text = (
        f"Replayed {source_name} against contract v{report.contract_version}: "
        f"{report.replayed:,} re-ingested, {report.still_failing:,} still failing"
        f"{_rules(report)}"
    )
    if report.unreadable:
        text += f", {report.unreadable:,} left as they are (no parsed payload)"
    return text + ". The re-ingested records reach the dashboards once the workers drain them."
