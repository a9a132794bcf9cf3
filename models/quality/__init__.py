"""Data quality (docs/quality.md): check results, incidents with escalation, and their SQL.

``ingest.quality`` evaluates the checks; everything that touches the database is here.
"""
