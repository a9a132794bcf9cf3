"""docs/configuration.md lists every setting of ``models.settings.Settings`` with its default."""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from models.settings import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"
# A reference row: | `VARIABLE` | default | meaning |
ROW = re.compile(
    r"^\|\s*`(?P<name>[A-Z][A-Z0-9_]*)`\s*\|\s*(?P<default>[^|]*?)\s*\|(?P<rest>.*)\|\s*$"
)
UNSET = "—"
DOC_NAME = "docs/configuration.md"


def env_name(name: str, field: FieldInfo) -> str:
    """The environment variable a field is read from: its alias, else its name."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else name.upper()


def documented_rows(text: str, where: str = DOC_NAME) -> dict[str, tuple[int, str]]:
    """Variable → (line number, default cell) of every reference row of the document."""
    rows: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = ROW.match(line)
        if match:
            name = match["name"]
            assert name not in rows, f"{where}:{number}: {name} is documented twice"
            rows[name] = (number, match["default"])
    return rows


def default_matches(cell: str, default: Any) -> bool:
    """Whether a documented default cell states the code's default."""
    if default is None:
        return cell == UNSET
    value = re.fullmatch(r"`([^`]*)`", cell)
    if value is None:
        return False
    text = value[1]
    if isinstance(default, SecretStr):
        default = default.get_secret_value()
    if isinstance(default, bool):
        return text == str(default).lower()
    if isinstance(default, enum.Enum):
        return text == str(default.value)
    if isinstance(default, int | float):
        try:
            return float(text) == float(default)
        except ValueError:
            return False
    if default == "":
        return text == '""'
    return bool(text == str(default))


def check(text: str) -> list[str]:
    """Every problem of the reference against the Settings fields, each naming its line."""
    rows = documented_rows(text)
    problems = []
    read = set()
    for name, field in Settings.model_fields.items():
        variable = env_name(name, field)
        read.add(variable)
        if variable not in rows:
            problems.append(f"{DOC_NAME}: setting {name} ({variable}) has no row")
            continue
        line, cell = rows[variable]
        if not default_matches(cell, field.default):
            problems.append(
                f"{DOC_NAME}:{line}: {variable} is documented with default {cell!r}, "
                f"the code's default is {field.default!r}"
            )
    for variable, (line, _) in rows.items():
        if variable not in read:
            problems.append(f"{DOC_NAME}:{line}: {variable} is documented but no setting reads it")
    return problems


def test_every_setting_is_documented_with_its_default() -> None:
    problems = check(DOC.read_text(encoding="utf-8"))
    assert not problems, "docs/configuration.md is out of date:\n" + "\n".join(problems)


def test_the_reference_rows_are_found() -> None:
    # Guards the parser itself: if the table format changed, the check above would see nothing.
    rows = documented_rows(DOC.read_text(encoding="utf-8"))
    assert len(rows) == len(Settings.model_fields)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda t: t.replace(
                "| `NORTHSTAR_DB_POOL_SIZE` | `5` |", "| `NORTHSTAR_DB_POOL_SIZE` | `6` |"
            ),
            "NORTHSTAR_DB_POOL_SIZE is documented with default '`6`'",
        ),
        (
            lambda t: re.sub(r"^\| `NORTHSTAR_LIVE_POLL_MS` .*\n", "", t, flags=re.M),
            "setting live_poll_ms (NORTHSTAR_LIVE_POLL_MS) has no row",
        ),
        (
            lambda t: t.replace(
                "| `NORTHSTAR_SMTP_HOST` | — |", "| `NORTHSTAR_SMTP_HOST` | `localhost` |"
            ),
            "NORTHSTAR_SMTP_HOST is documented with default '`localhost`'",
        ),
        (
            lambda t: t.replace(
                "| `NORTHSTAR_DQ_AUTO_RESOLVE` | `false` |",
                "| `NORTHSTAR_DQ_AUTO_RESOLVE` | `true` |",
            ),
            "NORTHSTAR_DQ_AUTO_RESOLVE is documented with default '`true`'",
        ),
        (
            lambda t: t + "| `NORTHSTAR_NOTHING` | `1` | gone |\n",
            "NORTHSTAR_NOTHING is documented but no setting reads it",
        ),
    ],
    ids=["wrong-number", "missing-row", "unset-default", "wrong-bool", "stale-row"],
)
def test_the_check_names_what_is_wrong(edit: Any, problem: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    edited = edit(text)
    assert edited != text
    assert any(problem in p for p in check(edited)), check(edited)


def test_the_readme_rows_agree_with_the_code() -> None:
    # README.md keeps the core settings only; those it lists must still be right.
    fields = {env_name(name, field): field for name, field in Settings.model_fields.items()}
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    rows = documented_rows(readme, "README.md")
    assert "DATABASE_URL" in rows
    problems = [
        f"README.md:{line}: {variable} "
        + ("is no setting" if variable not in fields else f"default {cell!r} is not the code's")
        for variable, (line, cell) in rows.items()
        if variable not in fields or not default_matches(cell, fields[variable].default)
    ]
    assert not problems, "\n".join(problems)
