"""The complete metadata: importing this module registers every table Northstar owns."""

from __future__ import annotations

from models import facts, kpis, logs, org, quarantine, sources, users
from models.base import metadata

__all__ = ["facts", "kpis", "logs", "metadata", "org", "quarantine", "sources", "users"]
