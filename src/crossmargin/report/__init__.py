"""Reports: plotly figures and files made from results (never a figure computed here)."""
