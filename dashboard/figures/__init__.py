"""Pure figure builders: they take data and return Plotly figures, and touch no database."""
