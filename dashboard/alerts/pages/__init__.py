"""Alert rules (/alerts) and reviews (/reviews)."""
