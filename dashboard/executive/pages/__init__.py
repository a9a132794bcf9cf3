"""The executive pages: Overview (/), KPI (/kpi/<key>) and Events (/events)."""
