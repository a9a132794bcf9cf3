"""Integration tests of ingest."""
