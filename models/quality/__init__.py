"""Data quality (DESIGN §8): check results, incidents with escalation, and their SQL.

``ingest.quality`` evaluates the checks; everything that touches the database is here.
"""
