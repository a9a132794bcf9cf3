"""The org tree as an admin sees it, and what a move or a deactivation of a unit would touch.

Everything is limited to the admin's scope (``catalog:manage``); the impact of a change counts
what lies below the unit (which is in scope, so its subtree is too) and the users whose scope
names the unit, a unit below it, or an ancestor the unit leaves by a move.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from models.enums import OrgLevel
from models.permissions import AccessDenied, Permission, Principal
from models.queries.common import IN_SCOPE, scope_params
from models.queries.scope import OUT_OF_SCOPE

MANAGE = Permission.CATALOG_MANAGE
MAX_UNITS = 2000
MAX_NAMES = 20


@dataclass(frozen=True, slots=True)
class TreeUnit:
    """A unit of the admin's tree; ``depth`` counts from the admin's top units (0)."""

    id: int
    key: str
    name: str
    level: OrgLevel
    parent_id: int | None
    path: str
    active: bool
    depth: int


@dataclass(frozen=True, slots=True)
class Impact:
    """What a move or (de)activation of a unit touches (every count covers its subtree)."""

    unit: TreeUnit
    units: int
    users_here: tuple[str, ...]
    """Users whose scope names the unit or a unit below it (their scope moves with it)."""
    users_losing: tuple[str, ...]
    """Users whose scope names an ancestor the unit leaves: they no longer see it."""
    sources: tuple[str, ...]
    kpis: tuple[str, ...]
    target_plans: int
    events: int


def org_tree(connection: Connection, principal: Principal) -> list[TreeUnit]:
    """The units in the principal's scope, active or not, in tree order."""
    principal.require(MANAGE)
    rows = connection.execute(
        text(
            "SELECT u.id, u.key, u.name, u.level, u.parent_id, CAST(u.path AS text) AS path, "
            "u.active, nlevel(u.path) AS depth FROM org_units u "
            f"WHERE u.path <@ ANY({IN_SCOPE}) ORDER BY u.path LIMIT :limit"
        ),
        {"limit": MAX_UNITS, **scope_params(principal.scope_paths)},
    ).mappings()
    found = list(rows)
    top = min((int(r["depth"]) for r in found), default=1)
    return [
        TreeUnit(
            id=int(r["id"]),
            key=str(r["key"]),
            name=str(r["name"]),
            level=OrgLevel(r["level"]),
            parent_id=r["parent_id"],
            path=str(r["path"]),
            active=bool(r["active"]),
            depth=int(r["depth"]) - top,
        )
        for r in found
    ]


def tree_unit(connection: Connection, principal: Principal, unit_id: int) -> TreeUnit:
    """One unit of the principal's tree; AccessDenied when out of scope or unknown."""
    for unit in org_tree(connection, principal):
        if unit.id == unit_id:
            return unit
    raise AccessDenied(OUT_OF_SCOPE)


_NAMES = {
    "users_here": (
        "SELECT DISTINCT us2.display_name FROM user_scopes us "
        "JOIN users us2 ON us2.id = us.user_id JOIN org_units o ON o.id = us.org_unit_id "
        "WHERE o.path <@ CAST(:path AS ltree) ORDER BY 1 LIMIT :limit"
    ),
    "users_losing": (
        "SELECT DISTINCT us2.display_name FROM user_scopes us "
        "JOIN users us2 ON us2.id = us.user_id JOIN org_units o ON o.id = us.org_unit_id "
        "WHERE CAST(:path AS ltree) <@ o.path AND o.path <> CAST(:path AS ltree) "
        "AND NOT (CAST(:target AS ltree) <@ o.path) ORDER BY 1 LIMIT :limit"
    ),
    "sources": (
        "SELECT s.key FROM sources s JOIN org_units o ON o.id = s.owner_unit_id "
        "WHERE o.path <@ CAST(:path AS ltree) ORDER BY 1 LIMIT :limit"
    ),
    "kpis": (
        "SELECT k.key FROM kpis k JOIN org_units o ON o.id = k.owner_unit_id "
        "WHERE o.path <@ CAST(:path AS ltree) ORDER BY 1 LIMIT :limit"
    ),
}
_COUNTS = (
    "SELECT (SELECT count(*) FROM org_units o WHERE o.path <@ CAST(:path AS ltree)) AS units, "
    "(SELECT count(*) FROM target_plans p JOIN org_units o ON o.id = p.org_unit_id "
    " WHERE o.path <@ CAST(:path AS ltree)) AS plans, "
    "(SELECT count(*) FROM events e WHERE e.org_unit_id IN "
    " (SELECT o.id FROM org_units o WHERE o.path <@ CAST(:path AS ltree))) AS events"
)


def unit_impact(
    connection: Connection, principal: Principal, unit_id: int, new_parent_path: str | None
) -> Impact:
    """What moving the unit under the unit at ``new_parent_path`` (None: no move, a
    deactivation) touches. ``users_losing`` is empty without a move: a deactivated unit stays
    in everybody's scope, only its new events stop."""
    unit = tree_unit(connection, principal, unit_id)
    params = {"path": unit.path, "limit": MAX_NAMES}
    names: dict[str, tuple[str, ...]] = {}
    for name, sql in _NAMES.items():
        if name == "users_losing" and new_parent_path is None:
            names[name] = ()
            continue
        bound = {**params, "target": new_parent_path} if name == "users_losing" else params
        names[name] = tuple(str(v) for v in connection.execute(text(sql), bound).scalars())
    counts = connection.execute(text(_COUNTS), {"path": unit.path}).one()
    return Impact(
        unit=unit,
        units=int(counts.units),
        users_here=names["users_here"],
        users_losing=names["users_losing"],
        sources=names["sources"],
        kpis=names["kpis"],
        target_plans=int(counts.plans),
        events=int(counts.events),
    )
