"""Serving a run: predictors, the post-run inference benchmark, explanations."""
