"""Unit tests of ingest."""
