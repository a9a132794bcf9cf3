"""What applying a catalogue would change: per entry, create / update / deactivate, with the
before and after of every changed field."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DEACTIVATE = "deactivate"


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any

    def __str__(self) -> str:
        if self.field == "contract":
            return contract_summary(self.before, self.after)
        return f"{self.field}: {show(self.before)} → {show(self.after)}"


@dataclass(frozen=True, slots=True)
class Change:
    """One entry to create or change; ``fields`` lists what differs (all values on create)."""

    section: str
    key: str
    kind: ChangeKind
    fields: tuple[FieldChange, ...]

    def __str__(self) -> str:
        if self.kind is ChangeKind.CREATE:
            values = ", ".join(
                f"{f.field} {show(f.after)}"
                for f in self.fields
                if f.after is not None and f.field != "contract"
            )
            contract = next((f for f in self.fields if f.field == "contract"), None)
            if contract is not None and contract.after is not None:
                values += ", " + contract_summary(None, contract.after)
            return f"create {self.key}: {values}"
        return f"{self.kind.value} {self.key}: " + "; ".join(str(f) for f in self.fields)


def show(value: Any) -> str:
    """A value as the file would write it, on one line."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=False, separators=(", ", ": "))


def contract_summary(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """``contract: version 1 → 2 (added coupon; removed legacy; changed amount)``."""
    if after is None:
        return "contract: unchanged"
    names_after = {f["name"]: f for f in after["fields"]}
    if before is None:
        return f"contract version {after['version']} ({', '.join(names_after)})"
    names_before = {f["name"]: f for f in before["fields"]}
    parts = []
    for label, names in (
        ("added", [n for n in names_after if n not in names_before]),
        ("removed", [n for n in names_before if n not in names_after]),
        (
            "changed",
            [n for n in names_after if n in names_before and names_before[n] != names_after[n]],
        ),
    ):
        if names:
            parts.append(f"{label} {', '.join(names)}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"contract: version {before['version']} → {after['version']}{detail}"


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested blocks as dotted fields (``pull.interval_s``); the contract stays whole."""
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Mapping) and name != "contract":
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def entry_change(
    section: str,
    key: str,
    wanted: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    *,
    created: Mapping[str, Any] | None = None,
) -> Change | None:
    """The change that brings ``current`` (None: absent) to the fields the file sets.

    Args:
        wanted: only the fields the file sets; the others are left as they are.
        created: on creation, every field with its default filled in (``wanted`` otherwise).
    """
    if current is None:
        full = flatten(created if created is not None else wanted)
        return Change(
            section,
            key,
            ChangeKind.CREATE,
            tuple(FieldChange(n, None, v) for n, v in full.items() if n != "key"),
        )
    changed = tuple(
        change
        for name, value in wanted.items()
        if name != "key" and current.get(name) != value
        for change in _field_changes(name, current.get(name), value)
    )
    if not changed:
        return None
    deactivates = any(f.field == "active" and f.after is False for f in changed)
    return Change(
        section, key, ChangeKind.DEACTIVATE if deactivates else ChangeKind.UPDATE, changed
    )


def _field_changes(name: str, before: Any, after: Any) -> list[FieldChange]:
    """A changed block (not the contract) as its changed sub-fields, others as one change."""
    blocks = isinstance(before, Mapping) or isinstance(after, Mapping)
    if blocks and name != "contract":
        old, new = flatten(before or {}, f"{name}."), flatten(after or {}, f"{name}.")
        return [
            FieldChange(n, old.get(n), new.get(n))
            for n in dict.fromkeys([*new, *old])
            if old.get(n) != new.get(n)
        ]
    return [FieldChange(name, before, after)]


def summary(changes: Sequence[Change]) -> str:
    """``3 changes (1 create, 2 update)`` or ``no changes``."""
    if not changes:
        return "no changes"
    counts = {kind: sum(1 for c in changes if c.kind is kind) for kind in ChangeKind}
    parts = ", ".join(f"{n} {kind.value}" for kind, n in counts.items() if n)
    return f"{len(changes)} change{'s' if len(changes) != 1 else ''} ({parts})"
