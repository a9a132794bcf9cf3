"""Reading and writing catalogue YAML with PyYAML's safe loader, made stricter.

- Only ``true`` and ``false`` are booleans (YAML 1.2): ``no`` (Norway) stays a string.
- Dates and times stay strings, so the typed specs parse them and a bad date is refused with
  its entry and field instead of failing inside the YAML parser.
- A key written twice in one mapping is refused (PyYAML would keep the last silently).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

YAML_SUFFIXES = (".yaml", ".yml")
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class YamlError(ValueError):
    """The text is not YAML this loader accepts; the message says where."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, no implicit timestamps, no duplicate keys."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                mark = key_node.start_mark
                line = mark.line + 1
                raise YamlError(
                    f"not valid YAML: line {line}: {key!r} is written twice in the same mapping"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _strict_resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept = [(tag, regexp) for tag, regexp in entries if tag not in (_BOOL, _TIMESTAMP)]
        if kept:
            resolvers[first] = kept
    return resolvers


_Loader.yaml_implicit_resolvers = _strict_resolvers()
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_text(text: str) -> Any:
    """The document in ``text`` (None when empty).

    Raises:
        YamlError: the text is not valid YAML, with the line and column.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlError(f"not valid YAML: {where}{exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {exc}") from None


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """The files named, a folder standing for its ``*.yaml`` and ``*.yml`` files (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in YAML_SUFFIXES)
        else:
            found.append(path)
    return found


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> Node:
    # Short lists of plain values (allowed values, levels) on one line: [web, app, store].
    flow = all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
    flow = flow and bool(value) and sum(len(str(v)) + 2 for v in value) < 80
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)


def dump(document: Any) -> str:
    """``document`` as YAML text, keys in the order given."""
    text: str = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text
