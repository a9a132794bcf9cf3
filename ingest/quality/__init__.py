"""Data-quality checks (docs/quality.md): one module per check, the runner, and the cron jobs.

Checks are pure over what :mod:`ingest.quality.context` read for the cycle (reconciliation
reads the events it recomputes); storing results and incidents is ``models.quality``.
"""
