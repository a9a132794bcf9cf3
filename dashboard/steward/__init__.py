"""The steward console: incidents, health, lineage, sources, notifications and the quarantine."""
