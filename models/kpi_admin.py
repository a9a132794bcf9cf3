"""Admin console writes on KPIs: create one, or change its definition and settings.

Every function takes the acting principal, checks ``catalog:manage``, that the KPI's owner
unit (the current one and the wanted one) lies in the principal's scope (a KPI out of scope
reads as missing), that the formula reads only metrics in scope and that the steward may
steward the owner unit; then saves through :func:`models.catalog.save_kpi` (audited with before
and after, a new definition version when the definition changed) and leaves committing to the
caller, so a refused save changes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.catalog import save_kpi
from models.enums import Direction
from models.kpi_versions import COMMENT_MAX, latest_version
from models.kpis import Kpi
from models.permissions import AccessDenied, Principal
from models.queries.admin.kpis import MANAGE, AdminKpi, admin_kpi, check_formula, kpi_exists
from models.queries.admin.sources import may_steward, unit_path_in_scope
from models.source_admin import actor_of

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""KPI keys, as in the catalogue file: they name the KPI page's path."""
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_UNIT = 40
MAX_FORMAT = 20
MAX_PCT = 1000.0
NOT_A_STEWARD = (
    "the steward must be an active user with incident:manage or quarantine:manage whose "
    "scope includes the KPI's owner unit"
)


def check_format(value: str) -> str:
    """A Python number format such as ``,.2f``; ValueError saying why otherwise."""
    if not value or len(value) > MAX_FORMAT:
        raise ValueError(f"the format must be 1 to {MAX_FORMAT} characters, such as ,.2f")
    try:
        format(1234.5, value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the format is not a number format such as ,.2f: {exc}") from None
    return value


def _check_pct(value: float | None, what: str) -> None:
    if value is not None and not (math.isfinite(value) and 0 < value <= MAX_PCT):
        raise ValueError(f"the {what} level must be above 0 and at most {MAX_PCT:g} % of target")


@dataclass(frozen=True, slots=True)
class KpiForm:
    """What the admin screen saves of a KPI (checked when made)."""

    name: str
    formula: str
    unit: str
    format: str
    direction: Direction
    owner_unit_id: int
    steward_id: int | None
    target_warn_pct: float | None = None
    target_crit_pct: float | None = None
    description: str = ""
    comment: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > MAX_NAME:
            raise ValueError(f"the name must be 1 to {MAX_NAME} characters")
        if len(self.description) > MAX_DESCRIPTION:
            raise ValueError(f"the description may have at most {MAX_DESCRIPTION} characters")
        if len(self.unit) > MAX_UNIT:
            raise ValueError(f"the unit may have at most {MAX_UNIT} characters")
        if len(self.comment) > COMMENT_MAX:
            raise ValueError(f"the reason may have at most {COMMENT_MAX} characters")
        check_format(self.format)
        _check_pct(self.target_warn_pct, "warning")
        _check_pct(self.target_crit_pct, "critical")

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.strip(),
            "description": self.description.strip(),
            "formula": self.formula,
            "unit": self.unit.strip(),
            "format": self.format,
            "direction": self.direction,
            "owner_unit_id": self.owner_unit_id,
            "steward_id": self.steward_id,
            "target_warn_pct": self.target_warn_pct,
            "target_crit_pct": self.target_crit_pct,
        }


@dataclass(frozen=True, slots=True)
class SavedKpi:
    key: str
    version: int
    """The KPI's definition version after the save."""
    new_version: bool


def save_kpi_form(
    session: Session, principal: Principal, key: str, form: KpiForm, *, create: bool
) -> SavedKpi:
    """Create the KPI ``key`` (``create``) or save the form over the KPI in scope.

    Raises:
        AccessDenied: missing ``catalog:manage``; the KPI or the owner unit is out of scope.
        FormulaError: the formula is malformed or reads a metric unknown or out of scope.
        ValueError: a bad key, a key taken, or a steward who may not steward the owner unit.
    """
    principal.require(MANAGE)
    connection = session.connection()
    current: AdminKpi | None = None
    if create:
        if not KEY_PATTERN.match(key):
            raise ValueError(
                "the key must be 1 to 64 characters: lower-case letters, digits and _, "
                "starting with a letter"
            )
        if kpi_exists(connection, key):
            raise ValueError(f"a KPI with the key {key!r} exists already")
    else:
        current = admin_kpi(connection, principal, key)  # refuses a KPI out of scope
    owner_path = unit_path_in_scope(connection, principal, form.owner_unit_id)
    if owner_path is None:
        raise AccessDenied("no such org unit in your scope")
    kept = current is not None and (current.steward_id, current.owner_unit_id) == (
        form.steward_id,
        form.owner_unit_id,
    )
    # A steward kept as they were stays allowed (like a source's); a new one is checked.
    steward = form.steward_id
    if steward is not None and not kept and not may_steward(connection, steward, owner_path):
        raise ValueError(NOT_A_STEWARD)
    check_formula(connection, principal, form.formula)
    before = _version_of(session, key)
    kpi = save_kpi(session, actor_of(principal), key, form.values(), comment=form.comment)
    after = latest_version(session, kpi.id)
    number = 0 if after is None else after.version
    return SavedKpi(key, number, number != before)


def _version_of(session: Session, key: str) -> int:
    kpi_id = session.scalar(select(Kpi.id).where(Kpi.key == key))
    latest = None if kpi_id is None else latest_version(session, kpi_id)
    return 0 if latest is None else latest.version
