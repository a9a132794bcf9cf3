"""Alert reads: rules with their state and history, who hears of them, channels to use.

Rules and reviews belong to an org unit: a principal with ``kpi:view`` sees those whose unit
lies in their scope (a rule on another unit and one that does not exist get the same answer);
reviews are read in :mod:`models.queries.alerts.reviews`.
The evaluation job's reads (:func:`rules_to_evaluate`, :func:`audience`) take no principal:
they are the system's, and what they find is only ever sent to people in scope.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from models.alerts.tables import AlertSeverity, AlertState, Condition
from models.enums import OrgLevel
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, scope_params
from models.queries.steward.incidents import Person

RULE_NOT_FOUND = "no such alert rule in your scope"


class RuleNotFound(AccessDenied):
    """No rule with this id in the principal's scope (or none at all: indistinguishable)."""


@dataclass(frozen=True, slots=True)
class RuleView:
    """A rule with its KPI, unit, owner, channels and current state."""

    id: int
    name: str
    kpi_id: int
    kpi_key: str
    kpi_name: str
    kpi_format: str
    kpi_unit: str
    kpi_steward_id: int | None
    unit_id: int
    unit_key: str
    unit_name: str
    unit_level: OrgLevel
    unit_path: str
    condition: Condition
    threshold: float
    clear_threshold: float | None
    for_s: int
    window_s: int
    severity: AlertSeverity
    mute_from: dt.datetime | None
    mute_until: dt.datetime | None
    notify_in_app: bool
    notify_email: bool
    channel_ids: tuple[int, ...]
    owner: Person | None
    active: bool
    state: AlertState
    since: dt.datetime | None
    last_value: float | None
    last_evaluated_at: dt.datetime | None
    notified_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class RuleEvent:
    id: int
    at: dt.datetime
    from_state: AlertState
    to_state: AlertState
    value: float | None
    threshold: float
    clear_threshold: float
    muted: bool
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChannelRef:
    id: int
    name: str


def person_json(alias: str) -> str:
    """A nullable ``[id, name]`` JSON array of the user ``alias`` (a joined ``users`` row)."""
    return (
        f"CASE WHEN {alias}.id IS NULL THEN NULL ELSE json_build_array({alias}.id, "
        f"coalesce(nullif({alias}.display_name, ''), {alias}.email)) END"
    )


def maybe_person(value: Any) -> Person | None:
    return None if value is None else Person(int(value[0]), str(value[1]))


_RULES = f"""
SELECT r.id, r.name, r.kpi_id, k.key AS kpi_key, k.name AS kpi_name, k.format AS kpi_format,
       k.unit AS kpi_unit, k.steward_id AS kpi_steward_id, r.org_unit_id AS unit_id,
       ou.key AS unit_key, ou.name AS unit_name,
       CAST(ou.level AS text) AS unit_level, CAST(ou.path AS text) AS unit_path,
       CAST(r.condition AS text) AS condition, r.threshold, r.clear_threshold, r.for_s,
       r.window_s, CAST(r.severity AS text) AS severity, r.mute_from, r.mute_until,
       r.notify_in_app, r.notify_email, r.active, {person_json("ow")} AS owner,
       ARRAY(SELECT c.channel_id FROM alert_rule_channels c WHERE c.rule_id = r.id
             ORDER BY 1) AS channel_ids,
       CAST(coalesce(s.state, 'ok') AS text) AS state, s.since, s.last_value,
       s.last_evaluated_at, s.notified_at
FROM alert_rules r
JOIN kpis k ON k.id = r.kpi_id
JOIN org_units ou ON ou.id = r.org_unit_id
LEFT JOIN users ow ON ow.id = r.owner_user_id
LEFT JOIN alert_states s ON s.rule_id = r.id
"""
IN_UNIT_SCOPE = f"ou.path <@ ANY({IN_SCOPE})"


def _rule(row: RowMapping) -> RuleView:
    return RuleView(
        id=row["id"],
        name=row["name"],
        kpi_id=row["kpi_id"],
        kpi_key=row["kpi_key"],
        kpi_name=row["kpi_name"],
        kpi_format=row["kpi_format"],
        kpi_unit=row["kpi_unit"],
        kpi_steward_id=row["kpi_steward_id"],
        unit_id=row["unit_id"],
        unit_key=row["unit_key"],
        unit_name=row["unit_name"],
        unit_level=OrgLevel(row["unit_level"]),
        unit_path=row["unit_path"],
        condition=Condition(row["condition"]),
        threshold=row["threshold"],
        clear_threshold=row["clear_threshold"],
        for_s=row["for_s"],
        window_s=row["window_s"],
        severity=AlertSeverity(row["severity"]),
        mute_from=row["mute_from"],
        mute_until=row["mute_until"],
        notify_in_app=row["notify_in_app"],
        notify_email=row["notify_email"],
        channel_ids=tuple(row["channel_ids"]),
        owner=maybe_person(row["owner"]),
        active=row["active"],
        state=AlertState(row["state"]),
        since=row["since"],
        last_value=row["last_value"],
        last_evaluated_at=row["last_evaluated_at"],
        notified_at=row["notified_at"],
    )


def list_rules(
    connection: Connection,
    principal: Principal,
    *,
    states: Collection[AlertState] | None = None,
    kpi_key: str | None = None,
    limit: int = 500,
) -> list[RuleView]:
    """The rules on units in scope: firing first, then pending, then by name.

    Raises:
        AccessDenied: missing ``kpi:view``.
    """
    principal.require(Permission.KPI_VIEW)
    order = "CASE coalesce(s.state, 'ok') WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END"
    rows = connection.execute(
        text(
            f"{_RULES} WHERE {IN_UNIT_SCOPE} "
            "AND (CAST(:states AS text[]) IS NULL "
            "     OR CAST(coalesce(s.state, 'ok') AS text) = ANY(CAST(:states AS text[]))) "
            "AND (CAST(:kpi AS text) IS NULL OR k.key = CAST(:kpi AS text)) "
            f"ORDER BY r.active DESC, {order}, r.name, r.id LIMIT :limit"
        ),
        {
            "states": sorted(s.value for s in states) if states else None,
            "kpi": kpi_key,
            "limit": limit,
            **scope_params(principal.scope_paths),
        },
    ).mappings()
    return [_rule(row) for row in rows]


def get_rule(connection: Connection, principal: Principal, rule_id: int) -> RuleView:
    """One rule on a unit in scope.

    Raises:
        AccessDenied: missing ``kpi:view``; RuleNotFound: not in scope.
    """
    principal.require(Permission.KPI_VIEW)
    row = (
        connection.execute(
            text(f"{_RULES} WHERE {IN_UNIT_SCOPE} AND r.id = :id LIMIT 1"),
            {"id": rule_id, **scope_params(principal.scope_paths)},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise RuleNotFound(RULE_NOT_FOUND)
    return _rule(row)


def rule_events(
    connection: Connection, principal: Principal, rule_id: int, *, limit: int = 100
) -> list[RuleEvent]:
    """The rule's transitions, newest first (see :func:`get_rule` for what it raises)."""
    get_rule(connection, principal, rule_id)
    rows = connection.execute(
        text(
            "SELECT id, at, CAST(from_state AS text), CAST(to_state AS text), value, threshold, "
            "clear_threshold, muted, detail FROM alert_events WHERE rule_id = :id "
            "ORDER BY at DESC, id DESC LIMIT :limit"
        ),
        {"id": rule_id, "limit": limit},
    )
    return [
        RuleEvent(id_, at, AlertState(a), AlertState(b), value, fire, clear, muted, detail)
        for id_, at, a, b, value, fire, clear, muted, detail in rows
    ]


def rules_to_evaluate(connection: Connection, *, limit: int = 10_000) -> list[RuleView]:
    """Every active rule (the evaluation job's read: no principal, see the module)."""
    rows = connection.execute(
        text(f"{_RULES} WHERE r.active ORDER BY r.id LIMIT :limit"), {"limit": limit}
    ).mappings()
    return [_rule(row) for row in rows]


_AUDIENCE = """
SELECT u.id, coalesce(nullif(u.display_name, ''), u.email) AS name FROM users u
WHERE u.is_active
  AND EXISTS (SELECT 1 FROM user_roles ur
              JOIN role_permissions rp ON rp.role_id = ur.role_id AND rp.permission = 'kpi:view'
              WHERE ur.user_id = u.id)
  AND EXISTS (SELECT 1 FROM user_scopes us JOIN org_units granted ON granted.id = us.org_unit_id
              JOIN org_units target ON target.id = :unit
              WHERE us.user_id = u.id AND target.path <@ granted.path)
  AND (CAST(:only AS integer[]) IS NULL OR u.id = ANY(CAST(:only AS integer[])))
ORDER BY 2, u.id
LIMIT :limit
"""


def audience(
    connection: Connection,
    unit_id: int,
    *,
    only: Collection[int] | None = None,
    limit: int = 1000,
) -> list[Person]:
    """The active users holding ``kpi:view`` whose scope covers the unit (the unit's numbers
    are theirs to see), by name; ``only``: among these users."""
    rows = connection.execute(
        text(_AUDIENCE),
        {"unit": unit_id, "only": None if only is None else sorted(only), "limit": limit},
    )
    return [Person(id_, name) for id_, name in rows]


def channel_choices(connection: Connection, principal: Principal) -> list[ChannelRef]:
    """The active notification channels a rule may use, by name.

    Raises:
        AccessDenied: missing ``alert:manage``.
    """
    principal.require(Permission.ALERT_MANAGE)
    rows = connection.execute(
        text("SELECT id, name FROM notification_channels WHERE active ORDER BY name, id LIMIT 500")
    )
    return [ChannelRef(id_, name) for id_, name in rows]
