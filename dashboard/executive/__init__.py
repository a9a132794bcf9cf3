"""The executive pages: overview tiles, a KPI's trend and breakdown, the events behind a number."""
