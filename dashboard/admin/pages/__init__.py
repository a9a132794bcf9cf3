"""The admin console's pages (under /admin)."""
