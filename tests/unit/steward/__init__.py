"""Unit tests of steward."""
