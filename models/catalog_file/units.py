"""The ``org_units`` section: the organisation tree (key, name, level, parent key)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from models.audit import Actor
from models.catalog import OrgUnitSpec, upsert_org_unit
from models.catalog_file.changes import Change, entry_change
from models.catalog_file.document import Document
from models.catalog_file.lookups import stored_units
from models.catalog_file.problems import Problem
from models.enums import OrgLevel

NAME = "org_units"
UNIT_KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class UnitEntry(BaseModel):
    """One org unit; ``parent`` names a unit of the files or of the database (none: a root)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=UNIT_KEY)
    name: str = Field(min_length=1, max_length=200)
    level: OrgLevel
    parent: str | None = None


def current(session: Session) -> dict[str, dict[str, Any]]:
    """The stored units in the file's shape, parents before children (siblings by age)."""
    rows = stored_units(session)
    children: dict[str | None, list[str]] = {}
    shaped: dict[str, dict[str, Any]] = {}
    for row in rows:
        children.setdefault(row.parent_key, []).append(row.key)
        shaped[row.key] = {
            "key": row.key,
            "name": row.name,
            "level": row.level.value,
            "parent": row.parent_key,
        }
    ordered: dict[str, dict[str, Any]] = {}
    stack = list(reversed(children.get(None, [])))
    while stack:
        key = stack.pop()
        ordered[key] = shaped[key]
        stack += reversed(children.get(key, []))
    return ordered


def final_parents(session: Session, document: Document) -> dict[str, str | None]:
    """Every unit's parent once the files are applied (a file's parent wins)."""
    parents = {row.key: row.parent_key for row in stored_units(session)}
    for parsed, entry in document.of(NAME, UnitEntry):
        if "parent" in entry.model_fields_set or parsed.key not in parents:
            parents[parsed.key] = entry.parent
    return parents


def check(session: Session, document: Document) -> list[Problem]:
    parents = final_parents(session, document)
    problems = []
    for parsed, entry in document.of(NAME, UnitEntry):
        if document.is_refused(NAME, entry.parent):
            continue
        if entry.parent is not None and entry.parent not in parents:
            problems.append(Problem(parsed.where, "parent", f"unknown org unit {entry.parent!r}"))
            continue
        cycle = _cycle(parsed.key, parents)
        if cycle:
            problems.append(
                Problem(parsed.where, "parent", "the tree would have a cycle: " + " → ".join(cycle))
            )
    return problems


def _cycle(key: str, parents: dict[str, str | None]) -> list[str]:
    """The loop above ``key`` if it reaches itself (else empty)."""
    path = [key]
    node = parents.get(key)
    while node is not None and node not in path:
        path.append(node)
        node = parents.get(node)
    return [*path, key] if node == key else []


def changes(session: Session, document: Document) -> list[Change]:
    stored = current(session)
    found = []
    for parsed, entry in document.of(NAME, UnitEntry):
        created = entry.model_dump(mode="json")
        change = entry_change(
            NAME, parsed.key, parsed.wanted(), stored.get(parsed.key), created=created
        )
        if change is not None:
            found.append(change)
    return found


def _depth(key: str, parents: dict[str, str | None]) -> int:
    depth, node = 0, parents.get(key)
    while node is not None:
        depth, node = depth + 1, parents.get(node)
    return depth


def apply(session: Session, document: Document, planned: Sequence[Change], actor: Actor) -> None:
    """Create and update units in the order of their depth in the final tree, so a parent is
    in place (created or moved) before its children."""
    wanted = {c.key for c in planned if c.section == NAME}
    parents = final_parents(session, document)
    stored = current(session)
    entries = [(p, e) for p, e in document.of(NAME, UnitEntry) if p.key in wanted]
    for parsed, entry in sorted(entries, key=lambda pe: _depth(pe[0].key, parents)):
        merged = {**stored.get(parsed.key, entry.model_dump(mode="json")), **parsed.wanted()}
        spec = OrgUnitSpec(
            merged["key"], merged["name"], OrgLevel(merged["level"]), merged["parent"]
        )
        upsert_org_unit(session, spec, actor)
