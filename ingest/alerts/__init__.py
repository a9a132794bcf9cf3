"""Threshold alerts: the state machine, evaluation through the query layer, the 30-day
preview, notifications and the reviews a firing alert opens (docs/alerts.md)."""
