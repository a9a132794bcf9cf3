"""Refusals of a catalogue file: each names the file, the entry and the field, all collected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.catalog import CatalogError


@dataclass(frozen=True, slots=True)
class Where:
    """An entry of a catalogue file: ``catalog.yaml: kpis[3] (revenue_per_order)``."""

    file: str
    section: str
    index: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}: {self.section}"
        if self.index is not None:
            text += f"[{self.index}]"
        if self.key:
            text += f" ({self.key})"
        return text


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a catalogue file is refused."""

    where: Where
    field: str | None
    message: str

    def __str__(self) -> str:
        field = f": {self.field}" if self.field else ""
        return f"{self.where}{field}: {self.message}"


class CatalogFileError(CatalogError):
    """The files cannot be applied; ``problems`` holds every reason found, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"the catalogue was refused ({count} problem{'s' if count != 1 else ''})"
        super().__init__("\n".join([head + ":", *(f"  {p}" for p in self.problems)]))
