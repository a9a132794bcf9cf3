"""Unit tests of alerts."""
