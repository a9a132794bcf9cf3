"""Unit tests of shell."""
