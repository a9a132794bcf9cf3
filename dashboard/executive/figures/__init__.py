"""Pure figure builders of the executive pages: data in, Plotly figure dicts out
(:class:`dashboard.common.figure_spec.Figure`); no database."""
