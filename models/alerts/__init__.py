"""Threshold alerts and reviews: tables (``tables``), rule edits, evaluation state, reviews."""
