"""Org units as a principal may see them: their roots, a unit looked up in scope, children."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, text

from models.enums import OrgLevel
from models.permissions import AccessDenied, Principal
from models.queries.common import DEFAULT_LIMITS, IN_SCOPE, QueryLimits, scope_params

OUT_OF_SCOPE = "no such org unit in your scope"
"""The same answer for a unit that is out of scope and one that does not exist: no probing."""

_COLUMNS = "u.id, u.key, u.name, u.level, u.parent_id, CAST(u.path AS text) AS path"


@dataclass(frozen=True, slots=True)
class Unit:
    """An org unit; ``path`` is its ltree path (ids from the root, e.g. ``1.4.17``)."""

    id: int
    key: str
    name: str
    level: OrgLevel
    parent_id: int | None
    path: str


def _unit(row: RowMapping) -> Unit:
    return Unit(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        level=OrgLevel(row["level"]),
        parent_id=row["parent_id"],
        path=row["path"],
    )


def resolve_unit(connection: Connection, principal: Principal, unit: int | str) -> Unit:
    """The unit with this id (int) or key (str), if it lies in the principal's scope.

    Raises:
        AccessDenied: the unit is outside the scope, or does not exist (indistinguishably).
    """
    column = "id" if isinstance(unit, int) else "key"
    row = (
        connection.execute(
            text(
                f"SELECT {_COLUMNS} FROM org_units u "
                f"WHERE u.{column} = :unit AND u.path <@ ANY({IN_SCOPE}) LIMIT 1"
            ),
            {"unit": unit, **scope_params(principal.scope_paths)},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise AccessDenied(OUT_OF_SCOPE)
    return _unit(row)


def root_units(
    connection: Connection, principal: Principal, *, limits: QueryLimits = DEFAULT_LIMITS
) -> list[Unit]:
    """The tops of the principal's subtrees (a grant inside another grant is not a root)."""
    rows = connection.execute(
        text(
            f"SELECT {_COLUMNS} FROM org_units u WHERE u.path = ANY({IN_SCOPE}) "
            f"AND NOT EXISTS (SELECT 1 FROM unnest({IN_SCOPE}) AS s(p) "
            "WHERE u.path <@ s.p AND u.path <> s.p) "
            "ORDER BY u.path LIMIT :limit"
        ),
        {"limit": limits.row_limit, **scope_params(principal.scope_paths)},
    ).mappings()
    return [_unit(row) for row in rows]


def child_units(
    connection: Connection,
    principal: Principal,
    unit: Unit,
    *,
    limits: QueryLimits = DEFAULT_LIMITS,
    active_only: bool = False,
) -> list[Unit]:
    """The children of ``unit`` that lie in the principal's scope, by name; only the active
    ones with ``active_only`` (pickers: a deactivated unit keeps its history, so breakdowns
    still show it)."""
    active = "AND u.active " if active_only else ""
    rows = connection.execute(
        text(
            f"SELECT {_COLUMNS} FROM org_units u "
            f"WHERE u.parent_id = :parent {active}AND u.path <@ ANY({IN_SCOPE}) "
            "ORDER BY u.name, u.id LIMIT :limit"
        ),
        {"parent": unit.id, "limit": limits.row_limit, **scope_params(principal.scope_paths)},
    ).mappings()
    return [_unit(row) for row in rows]
