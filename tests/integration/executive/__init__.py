"""Integration tests of executive."""
