"""RQ jobs of the notification outbox: send one delivery, and re-enqueue the due ones.

An attempt claims its delivery in a short transaction (counting the attempt and pushing its
next attempt a lease ahead), sends with no transaction open, then records the outcome in a
second one. A worker that dies mid-send leaves the delivery pending: it is tried again once
the lease ends. Failed attempts wait ``NORTHSTAR_NOTIFY_BACKOFF_S``, doubling each time up to
``NORTHSTAR_NOTIFY_BACKOFF_MAX_S``; after ``NORTHSTAR_NOTIFY_MAX_ATTEMPTS`` the delivery is
``failed`` with its last error. The periodic :func:`requeue_due` enqueues what is due.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from ingest.jobs import services
from ingest.notify import email, webhook
from ingest.notify.dispatch import QUEUED_PREFIX, delivery_queue, enqueue
from ingest.notify.urls import LookupFailed, Refused, UrlPolicy, resolve_target
from models.channels import ClaimedDelivery, DeliveryStatus, claim_delivery, settle_delivery
from models.queries.alerts.channels import due_delivery_ids
from models.settings import Settings

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
SWEEP_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Step:
    """What an attempt's outcome makes of the delivery."""

    status: DeliveryStatus
    error: str | None
    next_attempt_at: dt.datetime | None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def backoff(attempts: int, settings: Settings) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: the base, doubled for each
    attempt after the first, at most the maximum."""
    exponent = min(max(attempts - 1, 0), 32)
    seconds = min(settings.notify_backoff_s * 2**exponent, settings.notify_backoff_max_s)
    return dt.timedelta(seconds=seconds)


def lease(settings: Settings) -> dt.timedelta:
    """How long a claimed attempt may take before another job may try again: the lookup,
    the connection and the answer, each bounded by the timeout, and some slack."""
    return dt.timedelta(seconds=3 * settings.notify_timeout_s + 30)


def next_step(
    attempts: int, outcome: webhook.Outcome, settings: Settings, now: dt.datetime
) -> Step:
    """The delivery's state after its ``attempts``-th attempt went as ``outcome`` says."""
    if outcome.ok:
        return Step(DeliveryStatus.DELIVERED, None, None)
    if outcome.refused:
        return Step(DeliveryStatus.REFUSED, outcome.error, None)
    if not outcome.retry or attempts >= settings.notify_max_attempts:
        error = outcome.error or "failed"
        if outcome.retry:
            error = f"{error} (gave up after {attempts} attempts)"
        return Step(DeliveryStatus.FAILED, error, None)
    return Step(DeliveryStatus.PENDING, outcome.error, now + backoff(attempts, settings))


def send(claimed: ClaimedDelivery, settings: Settings) -> webhook.Outcome:
    """One attempt at the delivery: an e-mail, or a webhook to its channel's checked address."""
    link = webhook.absolute_link(str(claimed.payload.get("link", "")), settings.public_url)
    if claimed.channel_id is None:
        try:
            message = email.build_message(
                settings, claimed.recipient, claimed.kind, claimed.payload, link
            )
        except ValueError as exc:
            return webhook.Outcome(False, f"cannot write the message: {exc}")
        return email.send(settings, message, claimed.recipient)
    if (
        not claimed.channel_active
        or claimed.channel_kind is None
        or claimed.channel_url is None
        or claimed.channel_secret is None
    ):
        return webhook.Outcome(False, "the channel was deactivated", refused=True)
    try:
        target = resolve_target(
            claimed.channel_url,
            UrlPolicy.from_settings(settings),
            timeout_s=settings.notify_timeout_s,
        )
    except Refused as exc:
        return webhook.Outcome(False, str(exc), refused=True)
    except LookupFailed as exc:
        return webhook.Outcome(False, str(exc), retry=True)
    body = webhook.body_for(claimed.channel_kind, claimed.id, claimed.kind, claimed.payload, link)
    headers = webhook.signed_headers(
        claimed.channel_secret, body, delivery_id=claimed.id, kind=claimed.kind, now=time.time()
    )
    return webhook.post(target, body, headers, timeout_s=settings.notify_timeout_s)


def attempt(
    engine: Engine, settings: Settings, delivery_id: int, clock: Clock = utc_now
) -> DeliveryStatus | None:
    """Claim, send and settle one delivery; None when it was not due, not pending, or taken
    by another job (nothing was sent)."""
    with engine.begin() as connection:
        claimed = claim_delivery(connection, delivery_id, now=clock(), lease=lease(settings))
    if claimed is None:
        return None
    try:
        outcome = send(claimed, settings)
    except Exception as exc:
        # A bug must not leave the delivery to be claimed forever: it counts as an attempt.
        log.exception("delivery %s: sending failed", delivery_id)
        outcome = webhook.Outcome(False, f"internal error: {type(exc).__name__}", retry=True)
    now = clock()
    step = next_step(claimed.attempts, outcome, settings, now)
    with engine.begin() as connection:
        settle_delivery(
            connection,
            delivery_id,
            status=step.status,
            error=step.error,
            next_attempt_at=step.next_attempt_at,
            now=now,
        )
    if step.status is not DeliveryStatus.DELIVERED:
        log.info("delivery %s: %s (%s)", delivery_id, step.status.value, step.error)
    return step.status


def deliver(delivery_id: int) -> str | None:
    """RQ job: one attempt at the delivery; its status after it (None: nothing to do)."""
    if isinstance(delivery_id, bool) or not isinstance(delivery_id, int):
        raise TypeError("deliver takes a delivery id")
    current = services()
    # Cleared first: a retry due later must be enqueued again by the sweep.
    current.redis.delete(f"{QUEUED_PREFIX}{delivery_id}")
    status = attempt(current.engine, current.settings, delivery_id)
    return None if status is None else status.value


def requeue_due() -> int:
    """Cron job: enqueue every pending delivery whose next attempt is due (those never
    enqueued, retries after a backoff, attempts whose worker died); returns how many."""
    current = services()
    with current.engine.connect() as connection:
        due = due_delivery_ids(connection, utc_now(), limit=SWEEP_LIMIT)
    enqueue(delivery_queue(current.redis), due)
    return len(due)
