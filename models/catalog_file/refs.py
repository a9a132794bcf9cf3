"""What an entry may refer to once the files are applied: owner units and stewards."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from models.catalog_file import units
from models.catalog_file.document import Document
from models.catalog_file.lookups import steward_problem, stewards


class References:
    """Owner units (the final tree) and the users named as stewards, read once per check."""

    def __init__(self, session: Session, document: Document, emails: Iterable[str | None]):
        self.document = document
        self.parents = units.final_parents(session, document)
        self.stewards = stewards(session, {e for e in emails if e})

    def owner_problem(self, owner: str) -> str | None:
        if owner in self.parents or self.document.is_refused(units.NAME, owner):
            return None
        return f"unknown org unit {owner!r}"

    def steward_problem(self, steward: str | None, owner: str, stored: str | None) -> str | None:
        """Why ``steward`` may not steward what ``owner`` owns; a steward already stored is
        kept without asking again."""
        if steward is None or (stored is not None and steward.lower() == stored.lower()):
            return None
        if self.owner_problem(owner) is not None:
            return None
        return steward_problem(steward, owner, self.stewards, self.parents)

    def steward_id(self, steward: str | None) -> int | None:
        row = None if steward is None else self.stewards.get(steward.lower())
        return None if row is None else row.id
