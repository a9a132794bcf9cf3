"""Pure layout builders: they take data and return Dash components, and touch no database."""
