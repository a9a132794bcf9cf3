"""Integration tests of shell."""
