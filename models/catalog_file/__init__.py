"""Catalogue as code: org units, sources, metrics and KPIs declared in YAML files, checked,
compared with the database, applied in one audited transaction, and exported back.

``read_catalog`` reads and merges files; ``plan_catalog`` checks them against the database and
lists the changes; ``apply_catalog`` makes them; ``export_catalog`` writes the stored catalogue
as a file. The format is described in ``docs/catalog.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.audit import Actor
from models.catalog_file.changes import Change, ChangeKind, FieldChange, summary
from models.catalog_file.document import Document, Reader, read_files
from models.catalog_file.problems import CatalogFileError, Problem, Where
from models.catalog_file.sections import ENTRY_MODELS, SECTIONS
from models.catalog_file.yaml_io import dump

__all__ = [
    "CatalogFileError",
    "Change",
    "ChangeKind",
    "Document",
    "FieldChange",
    "Problem",
    "Where",
    "apply_catalog",
    "export_catalog",
    "parse_catalog_text",
    "plan_catalog",
    "read_catalog",
    "summary",
]

_LOCK = 0x4E53_4341  # "NSCA": one catalogue apply at a time
_HEADER = (
    "# Northstar catalogue, exported from the database. Apply it with\n"
    "# `northstar catalog apply FILE` (docs/catalog.md describes every field).\n"
)


_ORDER = {section.name: index for index, section in enumerate(SECTIONS)}


def _position(problem: Problem) -> tuple[str, int, int]:
    """File order: by file, then section, then entry (problems of one entry stay together)."""
    where = problem.where
    return (where.file, _ORDER.get(where.section, -1), -1 if where.index is None else where.index)


def read_catalog(paths: Iterable[Path]) -> Document:
    """The merged entries of these files or folders, and the problems found reading them."""
    return read_files(paths, ENTRY_MODELS)


def parse_catalog_text(name: str, text: str) -> Document:
    """The entries of one file's text (``name`` is how problems refer to it)."""
    reader = Reader(ENTRY_MODELS)
    reader.add_text(name, text)
    return reader.document


def plan_catalog(session: Session, document: Document) -> list[Change]:
    """The changes applying ``document`` would make; nothing is written.

    Raises:
        CatalogFileError: every problem of the files and of their references.
    """
    problems = list(document.problems)
    for section in SECTIONS:
        problems += section.check(session, document)
    if problems:
        raise CatalogFileError(sorted(problems, key=_position))
    return [change for section in SECTIONS for change in section.changes(session, document)]


def apply_catalog(session: Session, document: Document, actor: Actor) -> list[Change]:
    """Check ``document`` and make its changes in ``session`` (audited, not committed).

    Raises:
        CatalogFileError: nothing was changed.
    """
    session.execute(select(func.pg_advisory_xact_lock(_LOCK)))
    planned = plan_catalog(session, document)
    for section in SECTIONS:
        section.apply(session, document, planned, actor)
        session.flush()
    return planned


def export_catalog(session: Session) -> str:
    """The stored catalogue as a file that ``apply_catalog`` reads back unchanged."""
    document = {section.name: list(section.current(session).values()) for section in SECTIONS}
    return _HEADER + dump(document)
