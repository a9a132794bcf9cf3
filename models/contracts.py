"""A source contract as data: typed field specifications with role and classification."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from models.enums import Classification
from models.patterns import PatternError, compile_pattern

STORED = "stored"
"""Validation context key: the fields come from a stored contract version."""


class FieldType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    ENUM = "enum"


class FieldRole(StrEnum):
    EVENT_ID = "event_id"
    TIMESTAMP = "timestamp"
    ORG_UNIT = "org_unit"
    MEASURE = "measure"
    DIMENSION = "dimension"
    ATTRIBUTE = "attribute"


class FieldSpec(BaseModel):
    """One field of a contract, as stored in ``source_contracts.fields``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    type: FieldType
    role: FieldRole
    required: bool = True
    classification: Classification = Classification.INTERNAL
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    allowed: tuple[str, ...] | None = None
    reference: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> FieldSpec:
        if self.type is FieldType.ENUM and not self.allowed:
            raise ValueError(f"enum field {self.name!r} needs allowed values")
        if self.role is FieldRole.MEASURE and self.type not in (FieldType.INT, FieldType.FLOAT):
            raise ValueError(f"measure {self.name!r} must be int or float")
        # A stored version is read as it was saved (the edge rejects its records with a reason
        # if RE2 cannot run its pattern); a new one is refused here.
        stored = isinstance(info.context, dict) and info.context.get(STORED)
        if self.pattern is not None and not stored:
            try:
                compile_pattern(self.pattern)
            except PatternError as exc:
                raise ValueError(f"field {self.name!r}: {exc}") from exc
        return self


_SINGLE_ROLES = (FieldRole.EVENT_ID, FieldRole.TIMESTAMP, FieldRole.ORG_UNIT)


class Contract(BaseModel):
    """A version of a source's contract: exactly one event id, timestamp and org-unit field."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=1)
    fields: tuple[FieldSpec, ...]

    @model_validator(mode="after")
    def _one_of_each_key_role(self) -> Contract:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError("field names must be unique")
        for role in _SINGLE_ROLES:
            count = sum(1 for f in self.fields if f.role is role)
            if count != 1:
                raise ValueError(f"a contract needs exactly one {role.value} field, has {count}")
        return self

    @classmethod
    def from_row(cls, version: int, fields: list[dict[str, Any]]) -> Contract:
        return cls.model_validate({"version": version, "fields": fields}, context={STORED: True})

    def by_role(self, role: FieldRole) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.role is role)

    def field_named(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def measures(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.by_role(FieldRole.MEASURE))

    def attributes_classified(self, classification: Classification) -> frozenset[str]:
        """Names of attribute fields (stored in ``events.attrs``) with this classification."""
        return frozenset(
            f.name
            for f in self.fields
            if f.role is FieldRole.ATTRIBUTE and f.classification is classification
        )
