"""Integration tests of quality."""
