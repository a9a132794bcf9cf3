"""The steward console's pages (under /steward)."""
