"""Read queries: every SQL read the pages and jobs make, scoped to a principal."""
