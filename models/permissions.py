"""Permissions, the principal every query takes, and the one check that raises."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    KPI_VIEW = "kpi:view"
    EVENT_VIEW = "event:view"
    PII_VIEW = "pii:view"
    INCIDENT_MANAGE = "incident:manage"
    QUARANTINE_MANAGE = "quarantine:manage"
    ALERT_MANAGE = "alert:manage"
    SOURCE_MANAGE = "source:manage"
    USER_MANAGE = "user:manage"
    AUDIT_VIEW = "audit:view"
    CATALOG_MANAGE = "catalog:manage"
    """Edit the catalogue in the admin console: KPI definitions, the org tree, target plans
    (granted to the built-in admin role by migration 0014)."""


class AccessDenied(PermissionError):
    """The principal may not do this; the message says what was missing, never the data."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: their permissions and the org-unit subtrees (ltree paths) they may see."""

    user_id: int | None
    permissions: frozenset[Permission]
    scope_paths: tuple[str, ...]
    name: str = field(default="", compare=False)

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, *permissions: Permission) -> None:
        """Raise AccessDenied unless the principal holds every one of ``permissions``."""
        missing = [p.value for p in permissions if p not in self.permissions]
        if missing:
            raise AccessDenied(f"missing permission {', '.join(missing)}")

    @property
    def mask_level(self) -> str:
        """What the principal may see of classified fields: part of every cache key."""
        if self.has(Permission.PII_VIEW) and self.has(Permission.EVENT_VIEW):
            return "pii"
        if self.has(Permission.EVENT_VIEW):
            return "confidential"
        return "internal"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "executive": frozenset({Permission.KPI_VIEW, Permission.EVENT_VIEW}),
    "steward": frozenset(
        {
            Permission.KPI_VIEW,
            Permission.EVENT_VIEW,
            Permission.PII_VIEW,
            Permission.INCIDENT_MANAGE,
            Permission.QUARANTINE_MANAGE,
        }
    ),
    "admin": frozenset(Permission),
}
"""The roles that ship by default; custom roles live in the database only."""


def parse_permissions(values: Iterable[str]) -> frozenset[Permission]:
    """Turn stored permission strings into the enum, refusing unknown ones loudly."""
    return frozenset(Permission(v) for v in values)
