"""Integration tests of admin."""
