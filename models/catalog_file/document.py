"""A catalogue read from one or more YAML files: typed entries by section, and every problem.

Each top-level key of a file is a section (``org_units``, ``sources``, ``metrics``, ``kpis``),
a list of entries. Files are merged section by section in the order given; an entry key
defined twice (in one file or two) is refused, naming both places.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.catalog_file.problems import Problem, Where
from models.catalog_file.yaml_io import YamlError, expand_paths, load_text

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A valid entry of a file and where it was written."""

    where: Where
    model: BaseModel

    @property
    def key(self) -> str:
        return str(self.model.key)  # type: ignore[attr-defined]

    def wanted(self) -> dict[str, Any]:
        """The fields the file sets (nested blocks whole), in the file's vocabulary."""
        dumped = self.model.model_dump(mode="json")
        given = self.model.model_fields_set
        return {name: dumped[name] for name in type(self.model).model_fields if name in given}


@dataclass(slots=True)
class Document:
    """The merged entries of the files, by section, and the problems found reading them."""

    entries: dict[str, list[Parsed]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    refused: dict[str, set[str]] = field(default_factory=dict)
    """Keys of entries refused already, by section: references to them are not reported
    again as unknown."""

    def of(self, section: str, model: type[M]) -> list[tuple[Parsed, M]]:
        """The entries of ``section`` with their typed models."""
        found = []
        for parsed in self.entries.get(section, []):
            assert isinstance(parsed.model, model)
            found.append((parsed, parsed.model))
        return found

    def keys(self, section: str) -> set[str]:
        return {p.key for p in self.entries.get(section, [])}

    def without(self, field_name: str) -> Document:
        """The same document with ``field_name`` unset in every entry (left as stored)."""
        entries = {
            section: [
                Parsed(
                    p.where,
                    type(p.model).model_validate(
                        {n: getattr(p.model, n) for n in p.model.model_fields_set - {field_name}}
                    ),
                )
                for p in parsed
            ]
            for section, parsed in self.entries.items()
        }
        return Document(entries, list(self.problems), self.refused)

    def only(self, sections: Iterable[str]) -> Document:
        """The same document restricted to some sections."""
        kept = set(sections)
        entries = {n: e for n, e in self.entries.items() if n in kept}
        return Document(entries, list(self.problems), self.refused)

    def is_refused(self, section: str, key: str | None) -> bool:
        return key is not None and key in self.refused.get(section, set())


def field_path(loc: Sequence[int | str]) -> str:
    """``contract.fields[2].type`` from a pydantic error location."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _message(error: Mapping[str, Any]) -> str:
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def _entry(
    where: Where, raw: object, model: type[BaseModel]
) -> tuple[Parsed | None, list[Problem]]:
    if not isinstance(raw, Mapping):
        return None, [Problem(where, None, "must be a mapping of fields (key: value)")]
    try:
        return Parsed(where, model.model_validate(raw)), []
    except ValidationError as exc:
        return None, [
            Problem(where, field_path(e["loc"]) or None, _message(e)) for e in exc.errors()
        ]


def _raw_key(raw: object) -> str | None:
    key = raw.get("key") if isinstance(raw, Mapping) else None
    return key if isinstance(key, str) and key else None


class Reader:
    """Collects the sections of several files into one :class:`Document`."""

    def __init__(self, models: Mapping[str, type[BaseModel]]) -> None:
        self.models = models
        self.document = Document({name: [] for name in models})
        self._first: dict[tuple[str, str], Where] = {}

    def add_text(self, name: str, text: str) -> None:
        """Add the sections of one file (``name`` is how problems refer to it)."""
        try:
            loaded = load_text(text)
        except YamlError as exc:
            self.document.problems.append(Problem(Where(name, "file"), None, str(exc)))
            return
        if loaded is None:
            return
        if not isinstance(loaded, Mapping):
            self.document.problems.append(
                Problem(Where(name, "file"), None, "must be a mapping of sections")
            )
            return
        for section, items in loaded.items():
            self._add_section(name, str(section), items)

    def _add_section(self, name: str, section: str, items: object) -> None:
        model = self.models.get(section)
        if model is None:
            known = ", ".join(self.models)
            problem = f"unknown section (the sections are {known})"
            self.document.problems.append(Problem(Where(name, section), None, problem))
            return
        if items is None:
            return
        if not isinstance(items, list):
            problem = "must be a list of entries (each starting with '- key: ...')"
            self.document.problems.append(Problem(Where(name, section), None, problem))
            return
        for index, raw in enumerate(items):
            where = Where(name, section, index, _raw_key(raw))
            if where.key is not None:
                first = self._first.setdefault((section, where.key), where)
                if first is not where:
                    problem = f"key {where.key!r} is already defined at {first}"
                    self.document.problems.append(Problem(where, "key", problem))
                    continue
            parsed, problems = _entry(where, raw, model)
            self.document.problems.extend(problems)
            if parsed is not None:
                self.document.entries[section].append(parsed)
            elif where.key is not None:
                self.document.refused.setdefault(section, set()).add(where.key)


def read_files(paths: Iterable[Path], models: Mapping[str, type[BaseModel]]) -> Document:
    """Read and merge catalogue files (a folder stands for its YAML files)."""
    reader = Reader(models)
    files = expand_paths(paths)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problem = Problem(Where(str(path), "file"), None, f"cannot be read: {exc}")
            reader.document.problems.append(problem)
            continue
        reader.add_text(str(path), text)
    if not files:
        reader.document.problems.append(
            Problem(
                Where(", ".join(str(p) for p in paths) or "(none)", "file"), None, "no YAML files"
            )
        )
    return reader.document
