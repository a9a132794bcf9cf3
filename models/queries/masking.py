"""The one rule for classified event fields: mask ``pii``, drop ``confidential``, by permission."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.contracts import Contract
from models.enums import Classification
from models.permissions import Permission, Principal

MASK = "•••"


def field_classification(contract: Contract | None, name: str) -> Classification:
    """How the current contract classifies a field; a field it does not describe (dropped
    from the contract since, or no contract at all) is treated as ``pii``: fail closed."""
    spec = contract.field_named(name) if contract is not None else None
    return spec.classification if spec is not None else Classification.PII


def visible_attrs(
    contract: Contract | None, principal: Principal, attrs: Mapping[str, Any]
) -> dict[str, Any]:
    """``attrs`` as ``principal`` may see them.

    ``pii`` values are replaced by :data:`MASK` (the key is kept, so the reader knows the
    field exists) unless the principal has ``pii:view`` and ``event:view``; ``confidential``
    fields are removed unless the principal has ``event:view``.
    """
    may_see_pii = principal.has(Permission.PII_VIEW) and principal.has(Permission.EVENT_VIEW)
    may_see_confidential = principal.has(Permission.EVENT_VIEW)
    visible: dict[str, Any] = {}
    for name, value in attrs.items():
        classification = field_classification(contract, name)
        if classification is Classification.CONFIDENTIAL and not may_see_confidential:
            continue
        if classification is Classification.PII and not may_see_pii:
            visible[name] = MASK
        else:
            visible[name] = value
    return visible
