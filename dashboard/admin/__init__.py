"""The admin console: users and roles, access reviews, sources, channels and the logs."""
