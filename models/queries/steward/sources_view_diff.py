"""What changed between two versions of a source's contract, field by field (pure).

A field is matched by name: a renamed field reads as one removed and one added. For a field in
both versions every property that differs is one change (type, role, required,
classification, min, max, pattern, allowed values, reference, description), with its value
before and after as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.contracts import Contract, FieldSpec

PROPERTIES = (
    "type",
    "role",
    "required",
    "classification",
    "min",
    "max",
    "pattern",
    "allowed",
    "reference",
    "description",
)
"""The properties of a field compared, in the order changes are listed."""
NONE_TEXT = "—"


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference: a field added or removed (``prop`` None), or one property changed."""

    field: str
    kind: ChangeKind
    prop: str | None
    before: str
    after: str


def value_text(value: object) -> str:
    """A property's value as the page prints it: ``yes``/``no``, ``100`` for ``100.0``,
    allowed values comma-separated, "—" for none."""
    if value is None or value == "":
        return NONE_TEXT
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(getattr(value, "value", value))


def field_summary(spec: FieldSpec) -> str:
    """A field in one line: ``float measure, required, internal, max 100``."""
    parts = [
        f"{spec.type.value} {spec.role.value}",
        "required" if spec.required else "optional",
        spec.classification.value,
    ]
    for prop in ("min", "max", "pattern", "allowed", "reference"):
        value = getattr(spec, prop)
        if value is not None:
            parts.append(f"{prop} {value_text(value)}")
    return ", ".join(parts)


def contract_diff(before: Contract, after: Contract) -> list[FieldChange]:
    """The changes from ``before`` to ``after``: fields in ``after``'s order (added ones, or
    their changed properties), then the fields ``after`` dropped, in ``before``'s order."""
    old = {f.name: f for f in before.fields}
    new_names = {f.name for f in after.fields}
    changes: list[FieldChange] = []
    for spec in after.fields:
        previous = old.get(spec.name)
        if previous is None:
            changes.append(
                FieldChange(spec.name, ChangeKind.ADDED, None, NONE_TEXT, field_summary(spec))
            )
            continue
        for prop in PROPERTIES:
            was, now = getattr(previous, prop), getattr(spec, prop)
            if was != now:
                changes.append(
                    FieldChange(
                        spec.name, ChangeKind.CHANGED, prop, value_text(was), value_text(now)
                    )
                )
    changes += [
        FieldChange(spec.name, ChangeKind.REMOVED, None, field_summary(spec), NONE_TEXT)
        for spec in before.fields
        if spec.name not in new_names
    ]
    return changes


def diff_summary(changes: list[FieldChange]) -> str:
    """``1 field added, 1 removed, 2 changes`` ("no change to the fields" when empty)."""
    if not changes:
        return "no change to the fields"
    added = sum(c.kind is ChangeKind.ADDED for c in changes)
    removed = sum(c.kind is ChangeKind.REMOVED for c in changes)
    changed = sum(c.kind is ChangeKind.CHANGED for c in changes)
    parts = []
    if added:
        parts.append(f"{added} field{'s' if added != 1 else ''} added")
    if removed:
        parts.append(
            f"{removed} removed"
            if parts
            else f"{removed} field{'s' if removed != 1 else ''} removed"
        )
    if changed:
        parts.append(f"{changed} change{'s' if changed != 1 else ''}")
    return ", ".join(parts)
