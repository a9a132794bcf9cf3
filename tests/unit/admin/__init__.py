"""Unit tests of admin."""
