"""Checking what the browser sends to the admin KPI pages' callbacks (all untrusted).

Each parser returns a clean value or raises ``ValueError`` with a message fit for users that
never echoes the value. Whether the admin may change what a valid value names (the KPI's
scope, the owner unit, the steward, the metrics of the formula) is decided by
``models.kpi_admin``.
"""

from __future__ import annotations

import math

from dashboard.admin.source_params import choice, text
from dashboard.common import params
from models.enums import Direction
from models.formulas import MAX_FORMULA_LENGTH
from models.kpi_admin import MAX_DESCRIPTION, MAX_FORMAT, MAX_NAME, MAX_UNIT, KpiForm
from models.kpi_versions import COMMENT_MAX

NEW = "_new"
"""The path segment of the new-KPI form (no KPI key starts with ``_``)."""


def page_key(page_params: object) -> str:
    """The KPI key the page was opened for (from its path, kept in a store), or ``NEW``."""
    if not isinstance(page_params, dict):
        raise ValueError("the page parameters are malformed")
    return params.key(page_params.get("key"), "KPI")


def formula(value: object) -> str:
    return text(value, "the formula", MAX_FORMULA_LENGTH, one_line=True)


def short(value: object, what: str, limit: int) -> str:
    return text(value, what, limit, one_line=True)


def percent(value: object, what: str) -> float | None:
    """A percentage field: empty for none, else a finite number."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"the {what} level must be a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"the {what} level must be a number")
    if not math.isfinite(value):
        raise ValueError(f"the {what} level must be a number")
    return float(value)


def kpi_form(
    name: object,
    description: object,
    formula_text: object,
    unit: object,
    fmt: object,
    direction: object,
    owner: object,
    steward: object,
    warn_pct: object,
    crit_pct: object,
    comment: object,
) -> KpiForm:
    """The edit form (also the new-KPI form, whose key is checked apart)."""
    owner_id = params.optional_id(owner, "the owner unit")
    if owner_id is None:
        raise ValueError("choose the owner unit")
    return KpiForm(
        name=short(name, "the name", MAX_NAME),
        description=text(description, "the description", MAX_DESCRIPTION),
        formula=formula(formula_text),
        unit=short(unit, "the unit", MAX_UNIT),
        format=short(fmt, "the format", MAX_FORMAT),
        direction=choice(direction, Direction, "direction"),
        owner_unit_id=owner_id,
        steward_id=params.optional_id(steward, "a steward"),
        target_warn_pct=percent(warn_pct, "warning"),
        target_crit_pct=percent(crit_pct, "critical"),
        comment=short(comment, "the reason", COMMENT_MAX),
    )
