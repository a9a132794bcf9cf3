"""The sections of a catalogue file, in the order they are checked, applied and exported.

A section is one module with: its entry model, ``current`` (the stored entries in the file's
shape, which is also the export), ``check`` (cross-references against the files and the
database), ``changes`` and ``apply``. Adding a section is adding a module and a line here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from models.audit import Actor
from models.catalog_file import kpis, metrics, sources, targets, units
from models.catalog_file.changes import Change
from models.catalog_file.document import Document
from models.catalog_file.problems import Problem
from models.catalog_file.source_entry import SourceEntry


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    entry: type[BaseModel]
    current: Callable[[Session], dict[str, dict[str, Any]]]
    check: Callable[[Session, Document], list[Problem]]
    changes: Callable[[Session, Document], list[Change]]
    apply: Callable[[Session, Document, Sequence[Change], Actor], None]


def _sources_current(session: Session) -> dict[str, dict[str, Any]]:
    return sources.current(session)


SECTIONS = (
    Section(units.NAME, units.UnitEntry, units.current, units.check, units.changes, units.apply),
    Section(
        sources.NAME,
        SourceEntry,
        _sources_current,
        sources.check,
        sources.changes,
        sources.apply,
    ),
    Section(
        metrics.NAME,
        metrics.MetricEntry,
        metrics.current,
        metrics.check,
        metrics.changes,
        metrics.apply,
    ),
    Section(kpis.NAME, kpis.KpiEntry, kpis.current, kpis.check, kpis.changes, kpis.apply),
    Section(
        targets.NAME,
        targets.TargetEntry,
        targets.current,
        targets.check,
        targets.changes,
        targets.apply,
    ),
)
ENTRY_MODELS = {section.name: section.entry for section in SECTIONS}
