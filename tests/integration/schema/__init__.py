"""Integration tests of schema."""
