"""What a firing or resolved alert sets off: notices to the people and channels that may
hear of it, and the review a firing of enough severity opens (or updates).

Who hears of a rule follows scope: in the app (and by e-mail when the rule says so) every
active user holding ``kpi:view`` whose scope covers the rule's unit, the rule's owner among
them while their scope covers it (the notice carries the unit's number); by webhook the
rule's active channels. A review's owner is the rule's owner, else the KPI's steward, if
they may see the unit; else nobody (people with ``alert:manage`` act on it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from ingest.alerts import evidence
from ingest.alerts.measure import line_of
from ingest.alerts.system import system_principal
from ingest.alerts.wording import clear_text, judged_text, line_text, window_label
from ingest.notify.dispatch import Notice, dispatch
from models.alerts.reviews import Opening, open_or_update
from models.alerts.tables import AlertSeverity
from models.queries.alerts.rules import RuleView, audience
from models.queries.executive.definitions import KpiDefinition
from models.settings import Settings

REVIEW_LINK = "/reviews/{id}"


def kpi_link(rule: RuleView) -> str:
    return f"/kpi/{rule.kpi_key}?unit={rule.unit_key}"


def review_link(review_id: int) -> str:
    return REVIEW_LINK.format(id=review_id)


def title(rule: RuleView, kpi: KpiDefinition) -> str:
    """E.g. "Revenue below 1,000.00 EUR at EMEA"."""
    drawn = line_text(rule.condition, rule.threshold, kpi.format, kpi.unit)
    return f"{kpi.name} {drawn} at {rule.unit_name}"


class Effects:
    """The notices and reviews of one evaluation, in its transaction."""

    def __init__(self, session: Session, settings: Settings, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self.min_severity = AlertSeverity(settings.review_min_severity)
        self.due = dt.timedelta(days=settings.review_due_days)
        self.delivery_ids: list[int] = []
        self.reviews_opened: list[int] = []

    def _announce(self, rule: RuleView, notice: Notice, people: Sequence[int]) -> None:
        self.delivery_ids += dispatch(
            self.session,
            notice,
            in_app_user_ids=people if rule.notify_in_app else (),
            email_user_ids=people if rule.notify_email else (),
            channel_ids=rule.channel_ids,
            now=self.now,
        )

    def _audience(self, rule: RuleView) -> list[int]:
        return [p.id for p in audience(self.session.connection(), rule.unit_id)]

    def _facts(self, rule: RuleView, value: float | None) -> dict[str, object]:
        return {
            "rule_id": rule.id,
            "rule": rule.name,
            "kpi": rule.kpi_key,
            "unit": rule.unit_key,
            "condition": rule.condition.value,
            "value": value,
            "threshold": rule.threshold,
            "at": self.now,
        }

    def firing(
        self,
        rule: RuleView,
        kpi: KpiDefinition,
        value: float | None,
        values: tuple[float | None, float | None],
    ) -> None:
        """Announce that ``rule`` fires on ``value``; open or update its review."""
        judged = judged_text(rule.condition, value, kpi.format, kpi.unit)
        clear = clear_text(rule.condition, line_of(rule).levels.clear, kpi.format, kpi.unit)
        drawn = line_text(rule.condition, rule.threshold, kpi.format, kpi.unit)
        text = (
            f"{kpi.name} at {rule.unit_name} is {judged} over the last "
            f"{window_label(rule.window_s)}: {drawn} (rule {rule.name!r}; it {clear})."
        )
        notice = Notice(
            "alert.firing",
            f"Firing: {title(rule, kpi)}",
            text,
            kpi_link(rule),
            rule.severity.value,
            self._facts(rule, value),
        )
        self._announce(rule, notice, self._audience(rule))
        if rule.severity.rank >= self.min_severity.rank:
            self._review(rule, kpi, value, values)

    def resolved(self, rule: RuleView, kpi: KpiDefinition, value: float | None) -> None:
        """Announce that ``rule`` resolved on ``value``."""
        judged = judged_text(rule.condition, value, kpi.format, kpi.unit)
        notice = Notice(
            "alert.resolved",
            f"Resolved: {title(rule, kpi)}",
            f"{kpi.name} at {rule.unit_name} is back at {judged} (rule {rule.name!r}).",
            kpi_link(rule),
            "info",
            self._facts(rule, value),
        )
        self._announce(rule, notice, self._audience(rule))

    def _owner(self, rule: RuleView) -> int | None:
        candidates = [c for c in (rule.owner.id if rule.owner else None, rule.kpi_steward_id) if c]
        allowed = {p.id for p in audience(self.session.connection(), rule.unit_id, only=candidates)}
        return next((c for c in candidates if c in allowed), None)

    def _review(
        self,
        rule: RuleView,
        kpi: KpiDefinition,
        value: float | None,
        values: tuple[float | None, float | None],
    ) -> None:
        principal = system_principal(rule.unit_path)
        proof = evidence.gather(
            self.session.connection(), principal, rule, kpi, line_of(rule), value, values, self.now
        )
        owner = self._owner(rule)
        review_id, opened = open_or_update(
            self.session,
            Opening(
                rule_id=rule.id,
                kpi_id=rule.kpi_id,
                unit_id=rule.unit_id,
                title=title(rule, kpi),
                severity=rule.severity,
                evidence=proof,
                owner_user_id=owner,
                due_at=self.now + self.due,
            ),
            self.now,
        )
        if not opened:
            return
        self.reviews_opened.append(review_id)
        if owner is not None:
            notice = Notice(
                "review.opened",
                f"Review for you: {title(rule, kpi)}",
                f"The alert {rule.name!r} fired; its review is due "
                f"{(self.now + self.due):%d %b %Y}.",
                review_link(review_id),
                rule.severity.value,
                {**self._facts(rule, value), "review_id": review_id},
            )
            self.delivery_ids += dispatch(
                self.session,
                notice,
                in_app_user_ids=[owner],
                email_user_ids=[owner] if rule.notify_email else [],
                channel_ids=(),
                now=self.now,
            )
