"""A test pull: fetch a pulled source once with its saved settings and check the records
against its contract, storing and publishing nothing (the admin page's "Test pull")."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ingest.api_batch import check_batch
from ingest.api_bodies import Batch
from ingest.bounds import EventWindow
from ingest.contracts import compile_contract
from ingest.pull import fetch_records
from ingest.pull_fetch import PullError
from ingest.runtime import Services
from models.pulls import pull_plan

TRIAL_BATCH = "test-pull"


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What a test pull found: records fetched, how many the contract accepts, and the
    rejected ones counted by field and rule (never their values)."""

    fetched: int
    accepted: int
    rejected: int
    problems: tuple[tuple[str, str, int], ...]


class TrialRefused(ValueError):
    """The source cannot be pulled now; the message says why."""


def trial_pull(services: Services, source_id: int, now: dt.datetime) -> TrialResult:
    """Fetch as the next pull would (from the watermark) and check every record.

    Raises:
        TrialRefused: not a pulled source, no contract, an expired partner agreement, or the
            fetch failed (the message says which, as the pull job's log would).
    """
    with Session(services.engine) as session:
        plan = pull_plan(session, source_id)
    if plan is None:
        raise TrialRefused("the source is not pulled: set a pull kind and target, and save")
    if plan.agreement_expired(now):
        raise TrialRefused(plan.agreement_refusal())
    if plan.contract is None:
        raise TrialRefused("the source has no contract yet: its records cannot be checked")
    try:
        records = fetch_records(services, plan)
    except PullError as exc:
        raise TrialRefused(f"the fetch failed: {exc}") from None
    compiled = compile_contract(plan.source_id, plan.source_key, plan.contract)
    window = EventWindow.from_settings(services.settings)
    checked = check_batch(compiled, Batch(records=list(records), lax=False), TRIAL_BATCH, window)
    tally = Counter((e.field or "(record)", e.rule) for e in checked.errors)
    return TrialResult(
        fetched=len(records),
        accepted=len(checked.records),
        rejected=len(checked.rejections),
        problems=tuple((f, r, n) for (f, r), n in sorted(tally.items())),
    )
