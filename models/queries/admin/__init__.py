"""Reads of the admin console: users, roles, access reviews, sources, logs and invite links."""
