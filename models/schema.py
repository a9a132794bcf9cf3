"""The complete metadata: importing this module registers every table Northstar owns."""

from __future__ import annotations

from models import (
    channels,
    facts,
    kpis,
    logs,
    notifications,
    org,
    quarantine,
    sources,
    targets,
    tokens,
    users,
)
from models.admin import tables as admin
from models.alerts import tables as alerts
from models.base import metadata
from models.quality import tables as quality

__all__ = [
    "admin",
    "alerts",
    "channels",
    "facts",
    "kpis",
    "logs",
    "metadata",
    "notifications",
    "org",
    "quality",
    "quarantine",
    "sources",
    "targets",
    "tokens",
    "users",
]
