"""A new contract version from the admin console: the JSON an admin typed, checked with
messages that say which field and which property is wrong, and saved (audited).

The text is a JSON array of field objects, as ``source_contracts.fields`` stores them (an
object ``{"fields": [...]}`` is accepted too). Validation is the contract model's own
(``models.contracts``): the same rules the ingest edge compiles.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.catalog import ensure_contract, latest_contract, sync_metrics
from models.contracts import Contract, FieldSpec
from models.permissions import Principal
from models.source_admin import actor_of, locked_source
from models.sources import Metric

MAX_TEXT = 200_000
MAX_FIELDS = 300
MAX_NOTE = 1000
MAX_PROBLEMS = 20


class ContractTextError(ValueError):
    """The text is not a valid contract; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def contract_text(contract: Contract | None) -> str:
    """The editor's starting text: the fields without their default properties."""
    if contract is None:
        return "[]"
    fields = [f.model_dump(mode="json", exclude_defaults=True) for f in contract.fields]
    return json.dumps(fields, indent=2, ensure_ascii=False)


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "the field"


def _message(error: Any) -> str:
    text = str(error.get("msg", "invalid"))
    return text.removeprefix("Value error, ")


def _field(index: int, item: object) -> tuple[FieldSpec | None, list[str]]:
    name = item.get("name") if isinstance(item, dict) else None
    label = f"field {index + 1}" + (f" ({name!r})" if isinstance(name, str) and name else "")
    if not isinstance(item, dict):
        return None, [f"{label}: must be an object with name, type and role"]
    try:
        return FieldSpec.model_validate(item), []
    except ValidationError as exc:
        return None, [f"{label}: {_where(e['loc'])}: {_message(e)}" for e in exc.errors()]


def _items(text: str) -> list[Any]:
    if len(text) > MAX_TEXT:
        raise ContractTextError([f"the contract may have at most {MAX_TEXT:,} characters"])
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractTextError(
            [f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"]
        ) from None
    except RecursionError:
        raise ContractTextError(["the JSON is nested too deeply to be a contract"]) from None
    # JSON writes NUL as \u0000 only; PostgreSQL can store it neither in text nor in jsonb.
    if "\x00" in text or "\\u0000" in text.lower():
        raise ContractTextError(["the contract must not contain NUL characters (\\u0000)"])
    if isinstance(parsed, dict) and set(parsed) == {"fields"}:
        parsed = parsed["fields"]
    if not isinstance(parsed, list) or not parsed:
        raise ContractTextError(["the contract must be a non-empty JSON array of fields"])
    if len(parsed) > MAX_FIELDS:
        raise ContractTextError([f"a contract may have at most {MAX_FIELDS} fields"])
    return parsed


def parse_contract_text(text: str, version: int) -> Contract:
    """The contract the text describes, as version ``version``.

    Raises:
        ContractTextError: with every problem found (at most :data:`MAX_PROBLEMS`), each
            naming the field (number and name) and the property.
    """
    problems: list[str] = []
    fields: list[FieldSpec] = []
    for index, item in enumerate(_items(text)):
        spec, found = _field(index, item)
        problems += found
        if spec is not None:
            fields.append(spec)
    if problems:
        raise ContractTextError(problems[:MAX_PROBLEMS])
    try:
        return Contract(version=version, fields=tuple(fields))
    except ValidationError as exc:
        raise ContractTextError([_message(e) for e in exc.errors()][:MAX_PROBLEMS]) from None


def save_contract_version(
    session: Session,
    principal: Principal,
    key: str,
    contract: Contract,
    note: str,
    *,
    base_version: int | None,
) -> Contract:
    """Store ``contract``'s fields as the source's next version (audited with the fields
    before and after) and add metrics for new measures.

    Args:
        base_version: the version the admin edited and previewed against; if another version
            was saved since, nothing is stored.

    Raises:
        AccessDenied: missing ``source:manage``, or no such source in scope.
        ValueError: another version was saved meanwhile, nothing changed, or the note is long.
    """
    if len(note) > MAX_NOTE:
        raise ValueError(f"a note may have at most {MAX_NOTE} characters")
    source = locked_source(session, principal, key)
    current = latest_contract(session, source)
    if (None if current is None else current.version) != base_version:
        raise ValueError(
            "another contract version was saved meanwhile; check your change against it "
            "and preview again"
        )
    stored = [f.model_dump(mode="json") for f in contract.fields]
    if current is not None and current.fields == stored:
        raise ValueError(f"nothing changed: the fields are those of version {current.version}")
    actor = actor_of(principal)
    saved = ensure_contract(session, source, contract.fields, actor, note=note.strip())
    # Keep the units measures already have: sync_metrics would reset them to the mapping.
    units = {
        m.measure: m.unit
        for m in session.scalars(select(Metric).where(Metric.source_id == source.id))
        if m.measure is not None
    }
    sync_metrics(session, source, saved, units, actor)
    return saved
