"""Announcing something: in-app notifications and outbox rows in the caller's transaction,
then delivery jobs once it committed (the contract other features call).

Typical use (alerts)::

    with write_session(...) as session:
        ...  # the state change the notice is about
        ids = dispatch(session, notice, in_app_user_ids=..., email_user_ids=...,
                       channel_ids=..., now=now)
    enqueue(delivery_queue(redis), ids)

If Redis is down (or the process dies) between the commit and :func:`enqueue`, nothing is
lost: the periodic ``requeue-notifications`` job enqueues every due pending delivery.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import redis
import rq
from rq.serializers import JSONSerializer
from sqlalchemy.orm import Session

from models.audit import json_value
from models.channels import add_deliveries
from models.notifications import notify
from models.queries.alerts.channels import active_channel_ids, email_recipients

log = logging.getLogger(__name__)

QUEUE = "default"
DELIVER_JOB = "ingest.notify.jobs.deliver"
QUEUED_PREFIX = "northstar:notify:queued:"
"""``northstar:notify:queued:{delivery id}``: a delivery job is waiting (the sweep skips it)."""
QUEUED_TTL_S = 300
"""A job waiting longer (workers down) is dropped with its flag; the sweep enqueues anew."""
JOB_TIMEOUT_S = 400
"""Over the worst case of one attempt: lookup, connect and read, each up to 120 s."""
RESULT_TTL_S = 300
FAILURE_TTL_S = 7 * 86_400
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class Notice:
    """What to announce, the same for every way it is sent."""

    kind: str
    """``<subject>.<event>``: ``alert.firing``, ``alert.resolved``, ``review.opened``, ..."""
    title: str
    text: str
    link: str
    """A local dashboard path, e.g. ``/kpi/revenue?unit=emea``."""
    severity: str
    """``info``, ``warning`` or ``critical``."""
    data: dict[str, Any]
    """JSON-able facts: rule id, KPI key, unit key, value, threshold, at."""

    def payload(self) -> dict[str, Any]:
        """The notice as stored on each delivery (datetimes as ISO 8601, enums by value)."""
        return {
            "title": self.title,
            "text": self.text,
            "link": self.link,
            "severity": self.severity,
            "data": json_value(self.data),
        }


def dispatch(
    session: Session,
    notice: Notice,
    *,
    in_app_user_ids: Collection[int],
    email_user_ids: Collection[int],
    channel_ids: Collection[int],
    now: dt.datetime,
) -> list[int]:
    """In the caller's transaction: in-app notifications (models.notifications.notify), one
    outbox delivery row per e-mail recipient / active channel. Returns the delivery ids.

    Inactive users get no e-mail, inactive or unknown channels nothing; the caller decides
    who may be told (the rule's scope and each user's own).

    Raises:
        ValueError: an unknown severity, or a link that is not a local path.
    """
    if notice.severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    if notice.link and (not notice.link.startswith("/") or notice.link.startswith("//")):
        raise ValueError("a notice's link must be a local path such as /kpi/revenue")
    connection = session.connection()
    notify(
        connection,
        in_app_user_ids,
        kind=notice.kind,
        title=notice.title,
        link=notice.link,
        body=notice.text,
        now=now,
    )
    return add_deliveries(
        connection,
        kind=notice.kind,
        payload=notice.payload(),
        recipients=email_recipients(connection, email_user_ids),
        channel_ids=active_channel_ids(connection, channel_ids),
        now=now,
    )


def delivery_queue(connection: redis.Redis) -> rq.Queue:
    """The queue delivery jobs go to, with the JSON serializer the workers read."""
    return rq.Queue(QUEUE, connection=connection, serializer=JSONSerializer)


def enqueue(queue: rq.Queue, delivery_ids: Sequence[int]) -> None:
    """After the caller committed: enqueue delivery jobs (JSON serializer).

    A delivery already waiting in the queue is not enqueued twice. Redis errors are logged,
    not raised: the change is committed, and the periodic sweep sends its deliveries.
    """
    ids = sorted(set(delivery_ids))
    if not ids:
        return
    try:
        with queue.connection.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.set(f"{QUEUED_PREFIX}{delivery_id}", b"1", nx=True, ex=QUEUED_TTL_S)
            won = [i for i, ok in zip(ids, pipe.execute(), strict=True) if ok]
        if won:
            queue.enqueue_many([_job(queue, delivery_id) for delivery_id in won])
    except redis.RedisError:
        log.warning("could not enqueue deliveries %s; the sweep will", ids, exc_info=True)


def _job(queue: rq.Queue, delivery_id: int) -> Any:
    return queue.prepare_data(
        DELIVER_JOB,
        (delivery_id,),
        timeout=JOB_TIMEOUT_S,
        ttl=QUEUED_TTL_S,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        description=f"deliver notification {delivery_id}",
    )
