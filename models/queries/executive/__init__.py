"""Reads of the executive pages and the read API: KPI definitions, KPI numbers from the
rollups, and the events behind a number."""
