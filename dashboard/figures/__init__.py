"""Pure figure builders: they take data and return Plotly figures as plain dicts
(:class:`dashboard.figures.spec.Figure`), and touch no database."""
