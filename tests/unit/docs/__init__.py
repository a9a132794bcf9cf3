"""Unit tests of docs."""
