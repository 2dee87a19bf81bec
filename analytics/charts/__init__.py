"""Plotly figures, one module per page, all themed by theme.py."""
