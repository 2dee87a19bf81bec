"""Typed pure computations over the workspace: metrics, market, costs, compare, the SQL explorer."""
