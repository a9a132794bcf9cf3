"""Integration tests of steward."""
