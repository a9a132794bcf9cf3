"""The complete metadata: importing this module registers every table Northstar owns."""

from __future__ import annotations

from models import facts, kpis, logs, notifications, org, quarantine, sources, users
from models.base import metadata
from models.quality import tables as quality

__all__ = [
    "facts",
    "kpis",
    "logs",
    "metadata",
    "notifications",
    "org",
    "quality",
    "quarantine",
    "sources",
    "users",
]
