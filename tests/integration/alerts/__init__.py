"""Integration tests of alerts."""
