"""Reads of the steward console and the data-quality checks: incidents, quality badges,
health, lineage, sources and the quarantine."""
