"""RQ entry point of the alert evaluation (see ``ingest.schedule``), on the wall clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ingest.alerts.evaluate import evaluate
from ingest.jobs import services
from ingest.notify.dispatch import delivery_queue


def evaluate_alerts() -> dict[str, Any]:
    """Cron job: judge every active rule now; deliveries are enqueued after the commit."""
    current = services()
    now = dt.datetime.now(dt.UTC)
    queue = delivery_queue(current.redis)
    return evaluate(current.engine, current.settings, now, queue=queue).as_dict()
