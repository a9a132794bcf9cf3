"""Unit tests of executive."""
