"""Rule edits by people with ``alert:manage``: create, update, activate or deactivate.

Each write checks the permission and the scope (the rule's unit, and the unit it moves to,
must lie in the editor's scope), validates the whole spec (:mod:`models.alerts.spec`),
writes the rule and an ``audit_log`` row with the changed values before and after, and
leaves committing to the caller. Rules are never deleted: a deactivated rule keeps its
history and its reviews.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from models.alerts.spec import KpiTraits, RuleInvalid, RuleSpec, problems
from models.alerts.tables import (
    AlertEvent,
    AlertRule,
    AlertRuleChannel,
    AlertState,
    AlertStateRow,
)
from models.audit import Actor, record_change
from models.permissions import Permission, Principal
from models.queries.alerts.rules import RULE_NOT_FOUND, RuleNotFound, audience
from models.queries.common import scope_params
from models.queries.executive.definitions import UnknownKpi, load_kpi
from models.queries.scope import Unit, resolve_unit

_FIELDS = (
    "name",
    "kpi_id",
    "org_unit_id",
    "condition",
    "threshold",
    "clear_threshold",
    "for_s",
    "window_s",
    "severity",
    "mute_from",
    "mute_until",
    "notify_in_app",
    "notify_email",
    "owner_user_id",
    "active",
)


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.name or f"user {principal.user_id}", principal.user_id)


def _checked(session: Session, principal: Principal, spec: RuleSpec) -> dict[str, Any]:
    """The rule's column values for ``spec``; RuleInvalid listing every problem otherwise.

    Raises:
        AccessDenied: the unit is not in the principal's scope.
    """
    connection = session.connection()
    unit: Unit = resolve_unit(connection, principal, spec.unit_key)
    try:
        kpi = load_kpi(connection, principal, spec.kpi_key)
    except UnknownKpi:
        raise RuleInvalid(["there is no KPI with that key"]) from None
    found = problems(spec, KpiTraits(kpi.name, kpi.target, kpi.levels), unit.level)
    channels = sorted(set(spec.channel_ids))
    if channels:
        active = set(
            session.scalars(
                text("SELECT id FROM notification_channels WHERE active AND id = ANY(:ids)"),
                {"ids": channels},
            )
        )
        if active != set(channels):
            found.append("choose only active notification channels")
    if spec.owner_user_id is not None and not audience(
        connection, unit.id, only=[spec.owner_user_id]
    ):
        found.append("the owner must be an active user who may see the KPI at this unit")
    if found:
        raise RuleInvalid(found)
    return {
        "name": spec.name.strip(),
        "kpi_id": kpi.id,
        "org_unit_id": unit.id,
        "condition": spec.condition,
        "threshold": float(spec.threshold),
        "clear_threshold": None if spec.clear_threshold is None else float(spec.clear_threshold),
        "for_s": spec.for_s,
        "window_s": spec.window_s,
        "severity": spec.severity,
        "mute_from": spec.mute_from,
        "mute_until": spec.mute_until,
        "notify_in_app": spec.notify_in_app,
        "notify_email": spec.notify_email,
        "owner_user_id": spec.owner_user_id,
        "active": spec.active,
        "channel_ids": channels,
    }


def _snapshot(rule: AlertRule, channel_ids: list[int]) -> dict[str, Any]:
    return {**{name: getattr(rule, name) for name in _FIELDS}, "channel_ids": channel_ids}


def _channel_ids(session: Session, rule_id: int) -> list[int]:
    chosen = select(AlertRuleChannel.channel_id).where(AlertRuleChannel.rule_id == rule_id)
    return sorted(session.scalars(chosen))


def _set_channels(session: Session, rule_id: int, channel_ids: list[int]) -> None:
    session.execute(delete(AlertRuleChannel).where(AlertRuleChannel.rule_id == rule_id))
    if channel_ids:
        rows = [{"rule_id": rule_id, "channel_id": c} for c in channel_ids]
        session.execute(insert(AlertRuleChannel), rows)


def rule_named(session: Session, name: str) -> int | None:
    """The id of the rule called ``name``, if any (names need not be unique: the oldest)."""
    return session.scalar(
        select(AlertRule.id).where(AlertRule.name == name).order_by(AlertRule.id).limit(1)
    )


def create_rule(session: Session, principal: Principal, spec: RuleSpec, now: dt.datetime) -> int:
    """Add a rule (state ``ok``); returns its id.

    Raises:
        AccessDenied: missing ``alert:manage`` or the unit is out of scope.
        RuleInvalid: the spec has problems (all of them are listed).
    """
    principal.require(Permission.ALERT_MANAGE, Permission.KPI_VIEW)
    values = _checked(session, principal, spec)
    channel_ids = values.pop("channel_ids")
    rule = AlertRule(**values, created_by=principal.user_id, created_at=now, updated_at=now)
    session.add(rule)
    session.flush()
    _set_channels(session, rule.id, channel_ids)
    session.add(AlertStateRow(rule_id=rule.id, state=AlertState.OK, since=now))
    record_change(
        session,
        actor_of(principal),
        "alert_rule.create",
        "alert_rule",
        rule.id,
        after=_snapshot(rule, channel_ids),
    )
    session.flush()
    return rule.id


def locked_rule(session: Session, principal: Principal, rule_id: int) -> AlertRule:
    """The rule, locked for this transaction, if the principal may manage it.

    Raises:
        AccessDenied: missing ``alert:manage``; RuleNotFound: not in scope.
    """
    principal.require(Permission.ALERT_MANAGE, Permission.KPI_VIEW)
    found = session.execute(
        text(
            "SELECT r.id FROM alert_rules r JOIN org_units ou ON ou.id = r.org_unit_id "
            "WHERE r.id = :id AND ou.path <@ ANY(CAST(:scopes AS ltree[])) FOR UPDATE OF r"
        ),
        {"id": rule_id, **scope_params(principal.scope_paths)},
    ).first()
    rule = session.get(AlertRule, rule_id, populate_existing=True) if found else None
    if rule is None:
        raise RuleNotFound(RULE_NOT_FOUND)
    return rule


def _pause(session: Session, rule: AlertRule, now: dt.datetime) -> None:
    """A deactivated rule is no longer judged: it goes back to ``ok`` (recorded, announced to
    nobody), so it never stays "firing" on a line nobody watches."""
    row = session.get(AlertStateRow, rule.id, with_for_update=True)
    if row is None or row.state is AlertState.OK:
        return
    level = rule.threshold if rule.clear_threshold is None else rule.clear_threshold
    session.add(
        AlertEvent(
            rule_id=rule.id,
            at=now,
            from_state=row.state,
            to_state=AlertState.OK,
            value=None,
            threshold=rule.threshold,
            clear_threshold=level,
            muted=False,
            detail={"reason": "deactivated"},
        )
    )
    row.state, row.since, row.notified_at = AlertState.OK, now, None


def update_rule(
    session: Session, principal: Principal, rule_id: int, spec: RuleSpec, now: dt.datetime
) -> bool:
    """Change a rule to ``spec``; returns whether anything changed (audited when it did).

    A changed condition, level, window or KPI keeps the rule's state: the next evaluation
    judges the new line from there. Deactivating it puts it back to ``ok``.

    Raises:
        AccessDenied, RuleNotFound: as :func:`locked_rule` (and the new unit out of scope).
        RuleInvalid: the spec has problems.
    """
    rule = locked_rule(session, principal, rule_id)
    values = _checked(session, principal, spec)
    channel_ids = values.pop("channel_ids")
    before_channels = _channel_ids(session, rule.id)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in values.items():
        if getattr(rule, name) != value:
            before[name], after[name] = getattr(rule, name), value
            setattr(rule, name, value)
    if before_channels != channel_ids:
        before["channel_ids"], after["channel_ids"] = before_channels, channel_ids
        _set_channels(session, rule.id, channel_ids)
    if not after:
        return False
    rule.updated_at = now
    if after.get("active") is False:
        _pause(session, rule, now)
    record_change(
        session,
        actor_of(principal),
        "alert_rule.update",
        "alert_rule",
        rule.id,
        before=before,
        after=after,
    )
    session.flush()
    return True
