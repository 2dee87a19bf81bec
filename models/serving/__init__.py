"""Serving a run: predictors, the latency/throughput benchmark, the post-run record, explanations."""
